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
  const std::int64_t per_call =
      encoder_tokens_per_call_ > 0 ? std::max<std::int64_t>(1, encoder_tokens_per_call_ / S) : B;
  if (per_call >= B) {
    encoder_ = model_.encode(padded_.data(), B, S);
  } else {
    const std::int64_t M = cfg.d_model;
    encoder_ = EncoderOutput<float>{};
    encoder_.batch = B;
    encoder_.src_len = S;
    encoder_.memory = Tensor<float>(Shape{B, S, M});
    for (std::int64_t first = 0; first < B; first += per_call) {
      const std::int64_t count = std::min(per_call, B - first);
      EncoderOutput<float> part = model_.encode(padded_.data() + first * S, count, S);
      std::copy(part.memory.data(), part.memory.data() + count * S * M, encoder_.memory.data() + first * S * M);
      encoder_.src_valid.insert(encoder_.src_valid.end(), part.src_valid.begin(), part.src_valid.end());
      if (encoder_.cross_kv.empty())
        for (const Tensor<float>& kv : part.cross_kv) encoder_.cross_kv.emplace_back(Shape{B, S, kv.dim(2)});
      for (std::size_t l = 0; l < part.cross_kv.size(); ++l) {
        const std::int64_t width = S * part.cross_kv[l].dim(2);
        std::copy(part.cross_kv[l].data(), part.cross_kv[l].data() + count * width,
                  encoder_.cross_kv[l].data() + first * width);
      }
    }
  }
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
