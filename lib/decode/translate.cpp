#include "decode/translate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>

#include "decode/transformer_step_model.h"
#include "util/error.h"

namespace moe::decode {

namespace {

// Dropless routing gives every expert room for a whole group, so MoE
// buffers hold E x (tokens rounded up to the group) rows: small groups keep
// the rounding small for decoding steps of a few rows, and the encoder runs
// over at most kEncoderExpertRows / E tokens a call. Neither changes a
// result, since without drops each token routes alone.
constexpr int kDroplessGroupSize = 64;
constexpr std::int64_t kEncoderExpertRows = 16384;

}  // namespace

ModelConfig inference_config(const ModelConfig& trained, double moe_capacity_factor) {
  if (!std::isfinite(moe_capacity_factor))
    throw InputError("MoE capacity factor at inference: must be a finite number, got " +
                     std::to_string(moe_capacity_factor));
  if (!(moe_capacity_factor >= 0))
    throw InputError("MoE capacity factor at inference: must be >= 0, got " +
                     std::to_string(moe_capacity_factor));
  ModelConfig cfg = trained;
  if (moe_capacity_factor == 0) {
    // A group of S tokens sends at most S choices to one expert (a token's
    // two choices are distinct experts).
    cfg.moe.group_size = std::min(cfg.moe.group_size, kDroplessGroupSize);
    cfg.moe.capacity = cfg.moe.group_size;
  } else {
    cfg.moe.capacity = 0;
    // F >= E already gives C >= S, room for every choice of a group; a larger
    // F only grows the buffers, and a huge one would overflow C's integer.
    cfg.moe.eval_capacity_factor =
        cfg.moe.num_experts > 0 ? std::min(moe_capacity_factor, static_cast<double>(cfg.moe.num_experts))
                                : moe_capacity_factor;
  }
  return cfg;
}

std::vector<std::vector<std::size_t>> length_sorted_batches(const std::vector<std::size_t>& lengths,
                                                            const SearchOptions& o) {
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<std::size_t>> batches;
  std::vector<std::size_t> current;
  std::size_t longest = 0;
  for (std::size_t i : order) {
    const std::size_t grown = std::max(longest, lengths[i]);
    const bool over_tokens =
        o.max_batch_tokens > 0 &&
        static_cast<std::int64_t>(grown * (current.size() + 1)) > o.max_batch_tokens;
    if (!current.empty() && (current.size() >= static_cast<std::size_t>(o.mini_batch) || over_tokens)) {
      batches.push_back(std::move(current));
      current.clear();
      longest = 0;
    }
    current.push_back(i);
    longest = std::max(longest, lengths[i]);
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

std::vector<std::vector<Hypothesis>> translate(Transformer<float>& model,
                                               const std::vector<std::vector<std::int32_t>>& sources,
                                               const SearchOptions& options) {
  std::vector<std::uint64_t> streams(sources.size());
  std::iota(streams.begin(), streams.end(), 0);
  return translate(model, sources, options, streams);
}

std::vector<std::vector<Hypothesis>> translate(Transformer<float>& model,
                                               const std::vector<std::vector<std::int32_t>>& sources,
                                               const SearchOptions& options,
                                               std::span<const std::uint64_t> stream_ids,
                                               std::vector<std::vector<ExpertRoute>>* source_routes) {
  MOE_CHECK(stream_ids.size() == sources.size(), "one sampling stream per source");
  Searcher searcher(options);
  const MoeConfig& moe = model.config().moe;
  const bool dropless_moe = moe.num_experts > 0 && moe.capacity >= moe.group_size;
  TransformerStepModel step_model(model, dropless_moe ? kEncoderExpertRows / moe.num_experts : 0,
                                  options.report_routing);
  const bool keep_source_routes = options.report_routing && source_routes != nullptr;
  if (source_routes) source_routes->assign(keep_source_routes ? sources.size() : 0, {});
  std::vector<std::size_t> lengths(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].empty() || sources[i].back() != model.config().eos_id)
      throw InputError("source " + std::to_string(i) + " does not end with EOS (id " +
                       std::to_string(model.config().eos_id) + ")");
    lengths[i] = sources[i].size();
  }
  std::vector<std::vector<Hypothesis>> results(sources.size());
  std::vector<std::span<const std::int32_t>> batch_sources;
  std::vector<std::uint64_t> streams;
  for (const std::vector<std::size_t>& batch : length_sorted_batches(lengths, options)) {
    batch_sources.clear();
    streams.clear();
    for (std::size_t i : batch) {
      batch_sources.emplace_back(sources[i]);
      streams.push_back(stream_ids[i]);
    }
    std::vector<std::vector<Hypothesis>> found = searcher.run(step_model, batch_sources, streams);
    for (std::size_t j = 0; j < batch.size(); ++j) {
      results[batch[j]] = std::move(found[j]);
      if (keep_source_routes) {
        const std::span<const ExpertRoute> routes = step_model.source_routes(j);
        (*source_routes)[batch[j]].assign(routes.begin(), routes.end());
      }
    }
  }
  return results;
}

}  // namespace moe::decode
