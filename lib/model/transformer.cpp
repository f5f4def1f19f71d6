#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/ffn.h"
#include "nn/layer_norm.h"
#include "tensor/ops.h"

namespace moe {

// One encoder or decoder layer: parameter/gradient views, layer objects with
// their caches, and the activations backward needs.
template <typename T>
struct Transformer<T>::Block {
  Block(const ModelConfig& cfg, std::string name, bool is_decoder, bool uses_moe,
        Collectives* expert_axis, AttentionScratch<T>* attention_scratch, Tensor<T>* ffn_scratch,
        MoeScratch<T>* moe_scratch, MoeActivations<T>* moe_activations)
      : prefix(std::move(name)),
        decoder(is_decoder),
        ln1(cfg.d_model, cfg.norm, cfg.norm_eps),
        lnc(cfg.d_model, cfg.norm, cfg.norm_eps),
        ln2(cfg.d_model, cfg.norm, cfg.norm_eps),
        self_attn({cfg.d_model, cfg.heads, cfg.kv_dim(),
                   is_decoder ? AttentionKind::kCausalSelf : AttentionKind::kSelf,
                   cfg.attention_dropout},
                  attention_scratch),
        cross_attn({cfg.d_model, cfg.heads, cfg.kv_dim(), AttentionKind::kCross,
                    cfg.attention_dropout},
                   attention_scratch),
        ffn(cfg.d_model, cfg.ffn_dim, cfg.dropout, ffn_scratch),
        drop_self(cfg.dropout),
        drop_cross(cfg.dropout),
        drop_ffn(cfg.dropout) {
    if (uses_moe)
      moe = std::make_unique<MoeLayer<T>>(cfg.moe, cfg.d_model, cfg.ffn_dim, expert_axis,
                                          moe_scratch, moe_activations);
  }

  std::string prefix;  // "encoder.layer.3"
  bool decoder;
  LayerNorm<T> ln1, lnc, ln2;
  Attention<T> self_attn, cross_attn;
  FeedForward<T> ffn;                // unused when moe is set
  std::unique_ptr<MoeLayer<T>> moe;  // null for a dense layer
  Dropout<T> drop_self, drop_cross, drop_ffn;

  NormParams<T> ln1_p, ln1_g, lnc_p, lnc_g, ln2_p, ln2_g;
  AttentionParams<T> self_p, self_g, cross_p, cross_g;
  FfnParams<T> ffn_p, ffn_g;
  typename MoeLayer<T>::Params moe_p, moe_g;

  // Normalised sub-layer inputs of the last forward, each [B,L,M]: attention
  // and FFN cache views of them. (The residual stream itself is not kept:
  // LayerNorm caches what its backward needs.)
  Tensor<T> norm1, normc, norm2;
  MoeStats stats;
};

namespace {

std::string layer_name(bool decoder, int i) {
  return std::string(decoder ? "decoder" : "encoder") + ".layer." + std::to_string(i);
}

}  // namespace

template <typename T>
Transformer<T>::Transformer(const ModelConfig& cfg, std::uint64_t seed, Collectives* expert_axis,
                            Gradients gradients)
    : cfg_(cfg),
      expert_axis_(expert_axis),
      emb_scale_(static_cast<T>(std::sqrt(static_cast<double>(cfg.d_model)))),
      src_emb_drop_(cfg.dropout),
      tgt_emb_drop_(cfg.dropout),
      loss_(cfg.label_smoothing, cfg.pad_id) {
  cfg_.validate();
  if (expert_axis_) {
    expert_rank_ = expert_axis_->rank();
    expert_shards_ = expert_axis_->size();
  }
  if (cfg_.moe.num_experts > 0 && cfg_.moe.num_experts % expert_shards_ != 0)
    throw InputError("model.moe.num_experts: " + std::to_string(cfg_.moe.num_experts) +
                     " experts cannot be split over " + std::to_string(expert_shards_) +
                     " ranks of the expert axis");
  // A model without gradients never runs backward, so its MoE layers need
  // their expert activations only during their own forward.
  MoeActivations<T>* shared_moe_activations =
      gradients == Gradients::kNone ? &moe_activations_ : nullptr;
  for (int i = 0; i < cfg_.enc_layers; ++i)
    encoder_.push_back(std::make_unique<Block>(cfg_, layer_name(false, i), false,
                                               cfg_.is_moe_layer(i), expert_axis,
                                               &attention_scratch_, &ffn_scratch_, &moe_scratch_,
                                               shared_moe_activations));
  for (int i = 0; i < cfg_.dec_layers; ++i)
    decoder_.push_back(std::make_unique<Block>(cfg_, layer_name(true, i), true,
                                               cfg_.is_moe_layer(i), expert_axis,
                                               &attention_scratch_, &ffn_scratch_, &moe_scratch_,
                                               shared_moe_activations));
  enc_norm_ = std::make_unique<LayerNorm<T>>(cfg_.d_model, cfg_.norm, cfg_.norm_eps);
  dec_norm_ = std::make_unique<LayerNorm<T>>(cfg_.d_model, cfg_.norm, cfg_.norm_eps);
  add_weights();
  weights_.allocate(gradients);
  weights_.initialize(seed);
  for (auto& b : encoder_) bind(*b);
  for (auto& b : decoder_) bind(*b);
  const bool bias = cfg_.norm == NormType::kLayerNorm;
  enc_norm_p_ = {weights_.param("encoder.ln.scale"),
                 bias ? weights_.param("encoder.ln.bias") : TensorView<T>()};
  enc_norm_g_ = {grad_or_empty("encoder.ln.scale"), bias ? grad_or_empty("encoder.ln.bias") : TensorView<T>()};
  dec_norm_p_ = {weights_.param("decoder.ln.scale"),
                 bias ? weights_.param("decoder.ln.bias") : TensorView<T>()};
  dec_norm_g_ = {grad_or_empty("decoder.ln.scale"), bias ? grad_or_empty("decoder.ln.bias") : TensorView<T>()};
  positions_ = sinusoid_positions<T>(cfg_.max_positions, cfg_.d_model);
}

template <typename T>
Transformer<T>::~Transformer() = default;

// Every tensor of the model, once. Dense projections are stored input-major
// ([in, out]); initialisers: embedding N(0, M^-1/2) with a zero pad row
// (torchref), dense weights U(+-1/sqrt(fan_in)) (torch nn.Linear's bound),
// biases 0, norms scale 1 / bias 0, gate and experts U(+-sqrt(3/fan_in))
// (GSHARD.md §2.3).
template <typename T>
void Transformer<T>::add_weights() {
  const std::int64_t M = cfg_.d_model, H = cfg_.ffn_dim, hd = cfg_.heads * cfg_.kv_dim();
  const bool bias = cfg_.norm == NormType::kLayerNorm;
  auto dense = [&](const std::string& name, std::int64_t in, std::int64_t out) {
    weights_.add({name + ".w", Shape{in, out}, Init::kUniform, 1.0 / std::sqrt(double(in))});
    weights_.add({name + ".b", Shape{out}, Init::kZeros, 0});
  };
  auto norm = [&](const std::string& name) {
    weights_.add({name + ".scale", Shape{M}, Init::kOnes, 0});
    if (bias) weights_.add({name + ".bias", Shape{M}, Init::kZeros, 0});
  };
  WeightInfo embed{"embed", Shape{cfg_.vocab, M}, Init::kNormal, 1.0 / std::sqrt(double(M))};
  embed.zero_row = cfg_.pad_id;
  weights_.add(embed);
  for (const auto* stack : {&encoder_, &decoder_}) {
    for (const auto& b : *stack) {
      const std::string& p = b->prefix;
      norm(p + ".ln1");
      dense(p + ".attn.qkv", M, 3 * hd);
      dense(p + ".attn.out", hd, M);
      if (b->decoder) {
        norm(p + ".lnc");
        dense(p + ".cross.q", M, hd);
        dense(p + ".cross.kv", M, 2 * hd);
        dense(p + ".cross.out", hd, M);
      }
      norm(p + ".ln2");
      if (b->moe) {
        const std::int64_t E = cfg_.moe.num_experts, local = E / expert_shards_;
        const std::int64_t first = expert_rank_ * local;
        weights_.add({p + ".moe.wg", Shape{M, E}, Init::kUniform, std::sqrt(3.0 / M)});
        weights_.add({p + ".moe.wi", Shape{local, M, H}, Init::kUniform, std::sqrt(3.0 / M),
                      MeshAxis::kExpert, first});
        weights_.add({p + ".moe.wo", Shape{local, H, M}, Init::kUniform, std::sqrt(3.0 / H),
                      MeshAxis::kExpert, first});
      } else {
        dense(p + ".ffn.in", M, H);
        dense(p + ".ffn.out", H, M);
      }
    }
  }
  norm("encoder.ln");
  norm("decoder.ln");
}

template <typename T>
TensorView<T> Transformer<T>::grad_or_empty(const std::string& name) {
  return weights_.has_gradients() ? weights_.grad(name) : TensorView<T>();
}

template <typename T>
void Transformer<T>::bind(Block& b) {
  WeightTable<T>& w = weights_;
  const bool bias = cfg_.norm == NormType::kLayerNorm;
  auto norm = [&](const std::string& n, NormParams<T>& p, NormParams<T>& g) {
    p = {w.param(n + ".scale"), bias ? w.param(n + ".bias") : TensorView<T>()};
    g = {grad_or_empty(n + ".scale"), bias ? grad_or_empty(n + ".bias") : TensorView<T>()};
  };
  auto dense = [&](const std::string& n, LinearParams<T>& p, LinearParams<T>& g) {
    p = {w.param(n + ".w"), w.param(n + ".b")};
    g = {grad_or_empty(n + ".w"), grad_or_empty(n + ".b")};
  };
  const std::string& p = b.prefix;
  norm(p + ".ln1", b.ln1_p, b.ln1_g);
  dense(p + ".attn.qkv", b.self_p.qkv, b.self_g.qkv);
  dense(p + ".attn.out", b.self_p.out, b.self_g.out);
  if (b.decoder) {
    norm(p + ".lnc", b.lnc_p, b.lnc_g);
    dense(p + ".cross.q", b.cross_p.q, b.cross_g.q);
    dense(p + ".cross.kv", b.cross_p.kv, b.cross_g.kv);
    dense(p + ".cross.out", b.cross_p.out, b.cross_g.out);
  }
  norm(p + ".ln2", b.ln2_p, b.ln2_g);
  if (b.moe) {
    b.moe_p = {w.param(p + ".moe.wg"), w.param(p + ".moe.wi"), w.param(p + ".moe.wo")};
    b.moe_g = {grad_or_empty(p + ".moe.wg"), grad_or_empty(p + ".moe.wi"), grad_or_empty(p + ".moe.wo")};
  } else {
    dense(p + ".ffn.in", b.ffn_p.in, b.ffn_g.in);
    dense(p + ".ffn.out", b.ffn_p.out, b.ffn_g.out);
  }
}

template <typename T>
void Transformer<T>::check_batch(const Batch& batch) {
  const std::int64_t B = batch.batch, S = batch.src_len, L = batch.tgt_len;
  if (B <= 0 || S <= 0 || L <= 0)
    throw InputError("batch: empty (B=" + std::to_string(B) + ", S=" + std::to_string(S) +
                     ", T=" + std::to_string(L) + ")");
  if (static_cast<std::int64_t>(batch.src.size()) != B * S)
    throw InputError("batch: src has " + std::to_string(batch.src.size()) + " ids, expected B*S=" +
                     std::to_string(B * S));
  if (static_cast<std::int64_t>(batch.tgt_in.size()) != B * L ||
      static_cast<std::int64_t>(batch.labels.size()) != B * L)
    throw InputError("batch: tgt_in/labels have " + std::to_string(batch.tgt_in.size()) + "/" +
                     std::to_string(batch.labels.size()) + " ids, expected B*T=" +
                     std::to_string(B * L));
}

template <typename T>
void Transformer<T>::load_batch(const Batch& batch) {
  check_batch(batch);
  backward_ready_ = false;
  B_ = batch.batch;
  S_ = batch.src_len;
  T_ = batch.tgt_len;
  tgt_in_ = batch.tgt_in;
  tgt_valid_.resize(B_ * T_);
  for (std::int64_t i = 0; i < B_ * T_; ++i) tgt_valid_[i] = tgt_in_[i] != cfg_.pad_id;
}

template <typename T>
void Transformer<T>::block_forward(Block& b, TensorView<const T> x, TensorView<T> out,
                                   const std::uint8_t* valid, TensorView<const T> memory,
                                   bool training, Rng& rng) {
  const Shape shape = x.shape();
  for (Tensor<T>* t : {&b.norm1, &b.norm2, &branch_, &mid_[0], &mid_[1]}) t->resize(shape);
  TensorView<T> branch = branch_.view();

  b.ln1.forward(b.ln1_p, x, b.norm1.view());
  b.self_attn.forward(b.self_p, b.norm1.view(), {}, valid, branch, training, rng);
  b.drop_self.forward_inplace(branch, training, rng);
  add<T>(x, branch, mid_[0].view());
  TensorView<const T> stream = mid_[0].view();

  if (b.decoder) {
    b.normc.resize(shape);
    b.lnc.forward(b.lnc_p, stream, b.normc.view());
    b.cross_attn.forward(b.cross_p, b.normc.view(), memory, src_valid_.data(), branch, training,
                         rng);
    b.drop_cross.forward_inplace(branch, training, rng);
    add<T>(stream, branch, mid_[1].view());
    stream = mid_[1].view();
  }

  b.ln2.forward(b.ln2_p, stream, b.norm2.view());
  if (b.moe) {
    const std::int64_t n = shape.rows();
    const Shape flat{n, shape.back()};
    b.stats = b.moe->forward(b.moe_p, b.norm2.view().reshaped(flat), valid,
                             branch.reshaped(flat), training, rng);
  } else {
    b.ffn.forward(b.ffn_p, b.norm2.view(), branch, training, rng);
  }
  b.drop_ffn.forward_inplace(branch, training, rng);
  add<T>(stream, branch, out);
}

// Runs `blocks` over stream_[0] (the embeddings) in place of a per-layer
// copy: block i reads stream_[i % 2] and writes stream_[(i + 1) % 2].
template <typename T>
TensorView<const T> Transformer<T>::run_blocks(std::vector<std::unique_ptr<Block>>& blocks,
                                               const std::uint8_t* valid,
                                               TensorView<const T> memory, bool training,
                                               Rng& rng) {
  stream_[1].resize(stream_[0].shape());
  for (std::size_t i = 0; i < blocks.size(); ++i)
    block_forward(*blocks[i], stream_[i % 2].view(), stream_[(i + 1) % 2].view(), valid, memory,
                  training, rng);
  return stream_[blocks.size() % 2].view();
}

// d_stream holds dL/d(block output) on entry and dL/d(block input) on exit:
// each residual branch adds its input gradient into it (LayerNorm backward
// with accumulate_dx), walking the sub-layers in reverse.
template <typename T>
void Transformer<T>::block_backward(Block& b, TensorView<T> d_stream, TensorView<T> d_memory, T d_aux) {
  const Shape shape = d_stream.shape();
  d_norm_.resize(shape);
  TensorView<T> d_norm = d_norm_.view();
  // The branch's output gradient: d_stream itself unless dropout must rescale it.
  auto branch_grad = [&](const Dropout<T>& drop) -> TensorView<T> {
    if (!drop.active()) return d_stream;
    d_branch_.resize(shape);
    d_branch_.view().copy_from(d_stream);
    drop.backward_inplace(d_branch_.view());
    return d_branch_.view();
  };

  TensorView<T> dy = branch_grad(b.drop_ffn);
  if (b.moe) {
    const Shape flat{shape.rows(), shape.back()};
    b.moe->backward(b.moe_p, b.moe_g, dy.reshaped(flat), d_aux, d_norm.reshaped(flat));
  } else {
    b.ffn.backward(b.ffn_p, b.ffn_g, dy, d_norm, false);
  }
  b.ln2.backward(b.ln2_p, b.ln2_g, d_norm, d_stream, true);

  if (b.decoder) {
    dy = branch_grad(b.drop_cross);
    b.cross_attn.backward(b.cross_p, b.cross_g, dy, d_norm, false, d_memory);
    b.lnc.backward(b.lnc_p, b.lnc_g, d_norm, d_stream, true);
  }

  dy = branch_grad(b.drop_self);
  b.self_attn.backward(b.self_p, b.self_g, dy, d_norm, false, {});
  b.ln1.backward(b.ln1_p, b.ln1_g, d_norm, d_stream, true);
}

template <typename T>
void Transformer<T>::run_encoder(const std::int32_t* src, std::int64_t B, std::int64_t S,
                                 bool training, Rng& rng) {
  const std::int64_t M = cfg_.d_model;
  src_.assign(src, src + B * S);
  src_valid_.resize(B * S);
  for (std::int64_t i = 0; i < B * S; ++i) src_valid_[i] = src[i] != cfg_.pad_id;
  stream_[0].resize(Shape{B, S, M});
  embed_forward<T>(weights_.param("embed"), src, B, S, emb_scale_, positions_.view(), 0,
                   stream_[0].view());
  src_emb_drop_.forward_inplace(stream_[0].view(), training, rng);
  TensorView<const T> x = run_blocks(encoder_, src_valid_.data(), {}, training, rng);
  enc_out_.resize(Shape{B, S, M});
  enc_norm_->forward(enc_norm_p_, x, enc_out_.view());
}

template <typename T>
void Transformer<T>::run_decoder(bool training, Rng& rng) {
  const std::int64_t M = cfg_.d_model;
  stream_[0].resize(Shape{B_, T_, M});
  embed_forward<T>(weights_.param("embed"), tgt_in_.data(), B_, T_, emb_scale_,
                   positions_.view(), 0, stream_[0].view());
  tgt_emb_drop_.forward_inplace(stream_[0].view(), training, rng);
  TensorView<const T> x = run_blocks(decoder_, tgt_valid_.data(), enc_out_.view(), training, rng);
  dec_out_.resize(Shape{B_, T_, M});
  dec_norm_->forward(dec_norm_p_, x, dec_out_.view());
}

template <typename T>
LossParts Transformer<T>::forward(const Batch& batch, bool training, Rng& rng) {
  load_batch(batch);

  run_encoder(batch.src.data(), B_, S_, training, rng);
  run_decoder(training, rng);
  const CrossEntropySums sums = loss_.forward(dec_out_.view().reshaped(Shape{B_ * T_, cfg_.d_model}),
                                              weights_.param("embed"), batch.labels.data(), training);
  LossParts parts;
  parts.tgt_tokens = sums.tokens;
  for (std::uint8_t v : src_valid_) parts.src_tokens += v;
  const double denom = sums.tokens > 0 ? static_cast<double>(sums.tokens) : 1.0;
  parts.ls_nll = sums.smoothed / denom;
  parts.nll = sums.nll / denom;
  for (const auto* stack : {&encoder_, &decoder_})
    for (const auto& b : *stack)
      if (b->moe) {
        parts.aux += b->stats.aux_loss;
        parts.moe.push_back({b->prefix + ".moe", b->stats});
      }
  parts.loss = parts.ls_nll + cfg_.moe.aux_loss_coef * parts.aux;
  loss_tokens_ = sums.tokens;
  backward_ready_ = training;
  return parts;
}

template <typename T>
std::vector<typename Transformer<T>::GradientGroup> Transformer<T>::backward_gradient_groups() const {
  // Each prefix's tensors were registered together (add_weights), so they are
  // one run of consecutive entries.
  const std::vector<WeightInfo>& entries = weights_.entries();
  auto group_of = [&](const std::string& prefix) {
    GradientGroup g;
    const std::string dotted = prefix + ".";
    auto inside = [&](std::size_t i) {
      return entries[i].name == prefix || entries[i].name.compare(0, dotted.size(), dotted) == 0;
    };
    while (g.begin < entries.size() && !inside(g.begin)) ++g.begin;
    g.end = g.begin;
    while (g.end < entries.size() && inside(g.end)) ++g.end;
    return g;
  };
  std::vector<GradientGroup> groups{group_of("decoder.ln")};
  for (auto it = decoder_.rbegin(); it != decoder_.rend(); ++it) groups.push_back(group_of((*it)->prefix));
  groups.push_back(group_of("encoder.ln"));
  for (auto it = encoder_.rbegin(); it != encoder_.rend(); ++it) groups.push_back(group_of((*it)->prefix));
  groups.push_back(group_of("embed"));
  std::size_t covered = 0;
  for (const GradientGroup& g : groups) covered += g.end - g.begin;
  MOE_CHECK(covered == entries.size(), "backward gradient groups cover " + std::to_string(covered) + " of " +
                                           std::to_string(entries.size()) + " weight entries");
  return groups;
}

template <typename T>
void Transformer<T>::backward(const LossWeights& lw, const std::function<void(std::size_t)>& on_group_final) {
  // Group indices follow backward_gradient_groups().
  std::size_t next_group = 0;
  auto group_final = [&] {
    if (on_group_final) on_group_final(next_group);
    ++next_group;
  };
  MOE_CHECK(weights_.has_gradients(), "backward() on a model built without gradients");
  MOE_CHECK(backward_ready_, "backward() without a preceding training forward()");
  backward_ready_ = false;
  const std::int64_t M = cfg_.d_model;
  TensorView<T> g_embed = weights_.grad("embed");
  const double denominator = lw.token_denominator > 0 ? lw.token_denominator : static_cast<double>(loss_tokens_);
  const T scale = denominator > 0 ? static_cast<T>(1.0 / denominator) : T(0);
  const T d_aux = static_cast<T>(cfg_.moe.aux_loss_coef * lw.aux_scale);

  // Decoder: loss -> final norm -> blocks -> target embedding.
  const Shape tgt_shape{B_, T_, M};
  d_norm_.resize(tgt_shape);
  loss_.backward(scale, d_norm_.view().reshaped(Shape{B_ * T_, M}), g_embed);
  d_stream_.resize(tgt_shape);
  // d_norm_ is rewritten by the blocks below, so the final norm reads it first.
  dec_norm_->backward(dec_norm_p_, dec_norm_g_, d_norm_.view(), d_stream_.view(), false);
  group_final();
  d_memory_.resize_zero(Shape{B_, S_, M});
  for (auto it = decoder_.rbegin(); it != decoder_.rend(); ++it) {
    block_backward(**it, d_stream_.view(), d_memory_.view(), d_aux);
    group_final();
  }
  tgt_emb_drop_.backward_inplace(d_stream_.view());
  embed_backward<T>(g_embed, tgt_in_.data(), B_ * T_, emb_scale_, d_stream_.view(), cfg_.pad_id);

  // Encoder: memory gradient -> final norm -> blocks -> source embedding.
  const Shape src_shape{B_, S_, M};
  d_stream_.resize(src_shape);
  enc_norm_->backward(enc_norm_p_, enc_norm_g_, d_memory_.view(), d_stream_.view(), false);
  group_final();
  for (auto it = encoder_.rbegin(); it != encoder_.rend(); ++it) {
    block_backward(**it, d_stream_.view(), {}, d_aux);
    group_final();
  }
  src_emb_drop_.backward_inplace(d_stream_.view());
  embed_backward<T>(g_embed, src_.data(), B_ * S_, emb_scale_, d_stream_.view(), cfg_.pad_id);
  group_final();
}

template <typename T>
void Transformer<T>::score(const Batch& batch, TensorView<T> log_probs) {
  load_batch(batch);
  Rng unused(0);
  run_encoder(batch.src.data(), B_, S_, false, unused);
  run_decoder(false, unused);
  tied_log_probs<T>(dec_out_.view().reshaped(Shape{B_ * T_, cfg_.d_model}),
                    weights_.param("embed"), log_probs);
}

template <typename T>
EncoderOutput<T> Transformer<T>::encode(const std::int32_t* src, std::int64_t batch,
                                        std::int64_t src_len) {
  if (batch <= 0 || src_len <= 0) throw InputError("encode: empty source batch");
  backward_ready_ = false;
  Rng unused(0);
  run_encoder(src, batch, src_len, false, unused);
  EncoderOutput<T> enc;
  enc.batch = batch;
  enc.src_len = src_len;
  enc.memory = Tensor<T>(enc_out_.shape());
  enc.memory.view().copy_from(enc_out_.view());
  enc.src_valid = src_valid_;
  const std::int64_t hd = cfg_.heads * cfg_.kv_dim();
  for (auto& b : decoder_) {
    enc.cross_kv.emplace_back(Shape{batch, src_len, 2 * hd});
    b->cross_attn.project_memory(b->cross_p, enc.memory.view(), enc.cross_kv.back().view());
  }
  return enc;
}

template <typename T>
DecoderState<T> Transformer<T>::start_decoding(const EncoderOutput<T>& enc,
                                               std::int64_t beam) const {
  MOE_CHECK(beam > 0, "beam must be positive");
  DecoderState<T> st;
  st.rows = enc.batch * beam;
  st.row_sentence.resize(st.rows);
  for (std::int64_t r = 0; r < st.rows; ++r) st.row_sentence[r] = static_cast<std::int32_t>(r / beam);
  const std::int64_t hd = cfg_.heads * cfg_.kv_dim();
  const std::int64_t capacity = std::min<std::int64_t>(cfg_.max_positions, 16);
  for (std::size_t l = 0; l < decoder_.size(); ++l)
    st.self_kv.emplace_back(Shape{st.rows, capacity, 2 * hd});
  return st;
}

template <typename T>
void Transformer<T>::step(DecoderState<T>& st, const EncoderOutput<T>& enc,
                          const std::int32_t* tokens, TensorView<T> log_probs) {
  const std::int64_t R = st.rows, M = cfg_.d_model, t = st.step;
  MOE_CHECK(log_probs.shape().rows() == R && log_probs.shape().back() == cfg_.vocab,
            "step log_probs " + log_probs.shape().str());
  if (t >= cfg_.max_positions)
    throw InputError("decoding step " + std::to_string(t) + " reaches max_positions " +
                     std::to_string(cfg_.max_positions));
  backward_ready_ = false;
  if (R == 0) {
    ++st.step;
    return;
  }
  // Grow the key/value caches geometrically (copying the filled prefix).
  for (Tensor<T>& kv : st.self_kv) {
    const std::int64_t cap = kv.dim(1);
    if (t < cap) continue;
    const std::int64_t grown = std::min<std::int64_t>(cfg_.max_positions, 2 * cap);
    Tensor<T> bigger(Shape{R, grown, kv.dim(2)});
    for (std::int64_t r = 0; r < R; ++r)
      std::copy(kv.data() + r * cap * kv.dim(2), kv.data() + (r * cap + t) * kv.dim(2),
                bigger.data() + r * grown * kv.dim(2));
    kv = std::move(bigger);
  }
  step_x_.resize(Shape{R, M});
  step_norm_.resize(Shape{R, M});
  step_branch_.resize(Shape{R, M});
  TensorView<T> x = step_x_.view(), norm = step_norm_.view(), branch = step_branch_.view();
  embed_forward<T>(weights_.param("embed"), tokens, R, 1, emb_scale_, positions_.view(), t, x);
  Rng unused(0);
  for (std::size_t l = 0; l < decoder_.size(); ++l) {
    Block& b = *decoder_[l];
    b.ln1.forward(b.ln1_p, x, norm);
    b.self_attn.step_self(b.self_p, norm, st.self_kv[l].view(), t, branch);
    add_inplace<T>(x, branch);
    b.lnc.forward(b.lnc_p, x, norm);
    b.cross_attn.step_cross(b.cross_p, norm, enc.cross_kv[l].view(), st.row_sentence.data(),
                            enc.src_valid.data(), branch);
    add_inplace<T>(x, branch);
    b.ln2.forward(b.ln2_p, x, norm);
    if (b.moe)
      b.moe->forward(b.moe_p, norm, nullptr, branch, false, unused);
    else
      b.ffn.forward(b.ffn_p, norm, branch, false, unused);
    add_inplace<T>(x, branch);
  }
  dec_norm_->forward(dec_norm_p_, x, norm);
  tied_log_probs<T>(norm, weights_.param("embed"), log_probs);
  ++st.step;
}

template <typename T>
void Transformer<T>::reorder(DecoderState<T>& st, const std::vector<std::int32_t>& rows) const {
  const std::int64_t R = static_cast<std::int64_t>(rows.size());
  for (std::int32_t r : rows)
    MOE_CHECK(r >= 0 && r < st.rows, "reorder: row " + std::to_string(r) + " of " +
                                         std::to_string(st.rows));
  if (R <= st.rows) {
    // In place (beam back-pointers, dropped rows): a row that stays where it
    // is (rows[i] == i, typically each sentence's best hypothesis) is not
    // copied at all; only the sources that are themselves overwritten are
    // saved first. Only the filled prefix [0, step) of a row matters.
    std::vector<std::int64_t> saved(static_cast<std::size_t>(st.rows), -1);
    std::int64_t n_saved = 0;
    for (std::int64_t i = 0; i < R; ++i) {
      const std::int64_t s = rows[i];
      if (s != i && s < R && rows[s] != s && saved[s] < 0) saved[s] = n_saved++;
    }
    for (Tensor<T>& kv : st.self_kv) {
      const std::int64_t cap = kv.dim(1), width = kv.dim(2), len = st.step * width;
      auto row = [&](std::int64_t r) { return kv.data() + r * cap * width; };
      st.scratch.resize(Shape{std::max<std::int64_t>(n_saved, 1), len});
      for (std::int64_t s = 0; s < st.rows; ++s)
        if (saved[s] >= 0) std::copy(row(s), row(s) + len, st.scratch.data() + saved[s] * len);
      for (std::int64_t i = 0; i < R; ++i) {
        const std::int64_t s = rows[i];
        if (s == i) continue;
        const T* from = saved[s] >= 0 ? st.scratch.data() + saved[s] * len : row(s);
        std::copy(from, from + len, row(i));
      }
      kv.resize(Shape{R, cap, width});  // keeps the leading rows
    }
  } else {  // fan-out (the first step of a beam): gather into a larger buffer
    for (Tensor<T>& kv : st.self_kv) {
      const std::int64_t cap = kv.dim(1), width = kv.dim(2);
      st.scratch.resize(Shape{R, cap, width});
      for (std::int64_t i = 0; i < R; ++i)
        std::copy(kv.data() + rows[i] * cap * width, kv.data() + (rows[i] * cap + st.step) * width,
                  st.scratch.data() + i * cap * width);
      std::swap(kv, st.scratch);
    }
  }
  std::vector<std::int32_t> sentence(R);
  for (std::int64_t i = 0; i < R; ++i) sentence[i] = st.row_sentence[rows[i]];
  st.row_sentence = std::move(sentence);
  st.rows = R;
}

template <typename T>
std::vector<std::pair<std::string, const MoeLayer<T>*>> Transformer<T>::moe_layers(bool decoder) const {
  std::vector<std::pair<std::string, const MoeLayer<T>*>> out;
  for (const auto& b : decoder ? decoder_ : encoder_)
    if (b->moe) out.emplace_back(b->prefix + ".moe", b->moe.get());
  return out;
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace moe
