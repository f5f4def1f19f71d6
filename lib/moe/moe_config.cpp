#include "moe/moe_config.h"

#include <stdexcept>

#include "util/error.h"

namespace moe {

std::string to_string(SecondExpertPolicy p) {
  switch (p) {
    case SecondExpertPolicy::kAll: return "all";
    case SecondExpertPolicy::kRandom: return "random";
    case SecondExpertPolicy::kThreshold: return "threshold";
  }
  throw InternalError("unknown SecondExpertPolicy " + std::to_string(static_cast<int>(p)));
}

SecondExpertPolicy parse_second_expert_policy(const std::string& s) {
  if (s == "all") return SecondExpertPolicy::kAll;
  if (s == "random") return SecondExpertPolicy::kRandom;
  if (s == "threshold") return SecondExpertPolicy::kThreshold;
  throw std::invalid_argument("second_expert_policy: unknown value '" + s +
                              "' (expected all, random or threshold)");
}

void validate(const MoeConfig& c, const std::string& key_prefix) {
  auto fail = [&key_prefix](const std::string& key, const std::string& why) {
    throw InputError(key_prefix + key + ": " + why);
  };
  if (c.num_experts < 1) fail("num_experts", "must be >= 1, got " + std::to_string(c.num_experts));
  if (c.top_k != 1 && c.top_k != 2) fail("top_k", "must be 1 or 2, got " + std::to_string(c.top_k));
  if (c.top_k == 2 && c.num_experts < 2) fail("top_k", "top-2 gating needs num_experts >= 2");
  if (c.group_size < 1) fail("group_size", "must be >= 1, got " + std::to_string(c.group_size));
  if (!(c.capacity_factor > 0)) fail("capacity_factor", "must be > 0");
  if (!(c.eval_capacity_factor > 0)) fail("eval_capacity_factor", "must be > 0");
  if (c.min_capacity < 0) fail("min_capacity", "must be >= 0");
  if (c.round_capacity_to < 1) fail("round_capacity_to", "must be >= 1");
  if (c.capacity < 0) fail("capacity", "must be >= 0 (0 = from the capacity factors)");
  // random divides by the threshold; threshold compares against it (0 there means "all").
  if (c.second_expert_policy == SecondExpertPolicy::kRandom && !(c.second_expert_threshold > 0))
    fail("second_expert_threshold", "must be > 0 for second_expert_policy random");
  if (c.second_expert_policy == SecondExpertPolicy::kThreshold && !(c.second_expert_threshold >= 0))
    fail("second_expert_threshold", "must be >= 0 for second_expert_policy threshold");
  if (!(c.aux_loss_coef >= 0)) fail("aux_loss_coef", "must be >= 0");
}

}  // namespace moe
