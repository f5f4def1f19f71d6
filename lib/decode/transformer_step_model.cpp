#include "decode/transformer_step_model.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace moe::decode {

void TransformerStepModel::start(std::span<const std::span<const std::int32_t>> sources) {
  const std::int64_t B = static_cast<std::int64_t>(sources.size());
  std::int64_t S = 0;
  for (const auto& s : sources) S = std::max<std::int64_t>(S, static_cast<std::int64_t>(s.size()));
  const ModelConfig& cfg = model_.config();
  if (S > cfg.max_positions)
    throw InputError("source of " + std::to_string(S) + " tokens exceeds the model's max_positions " +
                     std::to_string(cfg.max_positions));
  padded_.assign(static_cast<std::size_t>(B * S), cfg.pad_id);
  for (std::int64_t b = 0; b < B; ++b)
    std::copy(sources[b].begin(), sources[b].end(), padded_.begin() + b * S);
  encoder_ = model_.encode(padded_.data(), B, S);
  state_ = model_.start_decoding(encoder_, 1);
}

void TransformerStepModel::step(std::span<const std::int32_t> tokens, TensorView<float> log_probs) {
  MOE_CHECK(static_cast<std::int64_t>(tokens.size()) == state_.rows,
            "step: " + std::to_string(tokens.size()) + " tokens for " + std::to_string(state_.rows) + " rows");
  model_.step(state_, encoder_, tokens.data(), log_probs);
}

void TransformerStepModel::reorder(std::span<const std::int32_t> rows) {
  rows_.assign(rows.begin(), rows.end());
  model_.reorder(state_, rows_);
}

}  // namespace moe::decode
