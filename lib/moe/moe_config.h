#pragma once
// Hyper-parameters of one GShard MoE layer (GSHARD.md §3). Plain data: the
// recipe reader fills it, the layer and `moe-train --plan` read it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace moe {

// What happens to each token's second choice (GSHARD.md §3.3 step 7).
enum class SecondExpertPolicy {
  kAll,        // always dispatched (subject to capacity)
  kRandom,     // kept iff u < g2 / threshold, u ~ U(0,1): the paper's "probability 2*g2"
  kThreshold,  // kept iff g2 > threshold (deterministic)
};

struct MoeConfig {
  int num_experts = 8;            // E, experts per MoE layer (all ranks together)
  int top_k = 2;                  // 2 = GShard top-2; 1 = Switch-style top-1
  int group_size = 1024;          // S, tokens gated together (cumsums run within a group)
  double capacity_factor = 2.0;   // training: C = ceil(S * cf / E) (2.0 = the paper's 2S/E)
  double eval_capacity_factor = 2.0;  // the same at evaluation/decoding time
  int min_capacity = 4;           // C is at least this
  int round_capacity_to = 1;      // C rounded up to a multiple of this (4 = lingvo)
  int capacity = 0;               // > 0: explicit C, overrides the factors
  SecondExpertPolicy second_expert_policy = SecondExpertPolicy::kRandom;
  double second_expert_threshold = 0.5;  // random: keep iff u < g2/threshold; threshold: g2 > it
  double aux_loss_coef = 0.01;    // k in loss = nll + k * sum over MoE layers of aux
};

// Capacity C for a group of `group_tokens` tokens (see MoeConfig). MoeLayer
// always passes the full group_size, also for a batch's partial last group.
inline std::int64_t expert_capacity(const MoeConfig& c, std::int64_t group_tokens, bool training) {
  if (c.capacity > 0) return c.capacity;
  const double cf = training ? c.capacity_factor : c.eval_capacity_factor;
  const double exact = static_cast<double>(group_tokens) * cf / c.num_experts;
  // A factor like 1.1 has no exact double: 100 * 1.1 / 11 is 10.000000000000002,
  // and a plain ceil would give 11 where the recipe means 10.
  std::int64_t cap = std::llround(exact);
  if (std::fabs(exact - static_cast<double>(cap)) > 1e-9 * std::max(1.0, exact) &&
      static_cast<double>(cap) < exact)
    ++cap;
  if (exact > 0 && cap < 1) cap = 1;  // the ceil of a positive C, however small
  if (cap < c.min_capacity) cap = c.min_capacity;
  const std::int64_t r = c.round_capacity_to > 1 ? c.round_capacity_to : 1;
  return (cap + r - 1) / r * r;
}

std::string to_string(SecondExpertPolicy p);
// Parses "all", "random", "threshold"; throws std::invalid_argument otherwise.
SecondExpertPolicy parse_second_expert_policy(const std::string& s);

// Throws InputError naming the first bad key as key_prefix + field, e.g.
// "moe.top_k: must be 1 or 2, got 3" (a recipe reader passes "model.moe.").
void validate(const MoeConfig& c, const std::string& key_prefix = "moe.");

}  // namespace moe
