#include "decode/transformer_step_model.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace moe::decode {

namespace {

ExpertRoute to_expert_route(const TokenRoute<float>& r) {
  ExpertRoute e;
  for (int k = 0; k < 2; ++k) {
    e.expert[k] = r.expert[k];
    e.weight[k] = r.weight[k];
  }
  return e;
}

}  // namespace

TransformerStepModel::TransformerStepModel(Transformer<float>& model, std::int64_t encoder_tokens_per_call,
                                           bool report_routing)
    : model_(model), encoder_tokens_per_call_(encoder_tokens_per_call), report_routing_(report_routing) {
  if (report_routing_) {
    for (const auto& [name, layer] : model_.moe_layers(false)) encoder_moe_.push_back(layer);
    for (const auto& [name, layer] : model_.moe_layers(true)) decoder_moe_.push_back(layer);
  }
  Collectives* axis = model_.expert_axis();
  if (axis && axis->size() > 1) replicas_ = axis;
}

void TransformerStepModel::keep_source_routes(std::span<const std::span<const std::int32_t>> sources,
                                              std::int64_t first, std::int64_t count, std::int64_t src_len) {
  const std::size_t W = encoder_moe_.size();
  for (std::int64_t b = first; b < first + count; ++b) {
    const std::size_t len = sources[b].size();
    std::vector<ExpertRoute>& out = source_routes_[b];
    out.resize(len * W);
    for (std::size_t l = 0; l < W; ++l) {
      const std::vector<TokenRoute<float>>& routes = encoder_moe_[l]->routes();
      MOE_CHECK(static_cast<std::int64_t>(routes.size()) == count * src_len, "encoder MoE routes of the batch");
      for (std::size_t s = 0; s < len; ++s)
        out[s * W + l] = to_expert_route(routes[static_cast<std::size_t>((b - first) * src_len) + s]);
    }
  }
}

void TransformerStepModel::step_routes(std::span<ExpertRoute> out) const {
  const std::size_t W = decoder_moe_.size();
  for (std::size_t l = 0; l < W; ++l) {
    const std::vector<TokenRoute<float>>& routes = decoder_moe_[l]->routes();
    MOE_CHECK(routes.size() * W == out.size(), "decoder MoE routes of the step");
    for (std::size_t r = 0; r < routes.size(); ++r) out[r * W + l] = to_expert_route(routes[r]);
  }
}

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
  source_routes_.assign(report_routing_ ? static_cast<std::size_t>(B) : 0, {});
  if (per_call >= B) {
    encoder_ = model_.encode(padded_.data(), B, S);
    if (report_routing_) keep_source_routes(sources, 0, B, S);
  } else {
    const std::int64_t M = cfg.d_model;
    encoder_ = EncoderOutput<float>{};
    encoder_.batch = B;
    encoder_.src_len = S;
    encoder_.memory = Tensor<float>(Shape{B, S, M});
    for (std::int64_t first = 0; first < B; first += per_call) {
      const std::int64_t count = std::min(per_call, B - first);
      EncoderOutput<float> part = model_.encode(padded_.data() + first * S, count, S);
      if (report_routing_) keep_source_routes(sources, first, count, S);
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
  if (replicas_)  // views are contiguous: [R,V] is one block
    replicas_->broadcast(log_probs.data(), static_cast<std::size_t>(log_probs.numel()) * sizeof(float), 0);
}

void TransformerStepModel::reorder(std::span<const std::int32_t> rows) {
  rows_.assign(rows.begin(), rows.end());
  model_.reorder(state_, rows_);
}

}  // namespace moe::decode
