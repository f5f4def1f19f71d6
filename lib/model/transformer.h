#pragma once
// The GShard-style encoder-decoder (torchref MoETransformer): pre-LN blocks
// with a final LN per stack, sinusoidal positions, embeddings scaled by
// sqrt(M), ONE [V,M] embedding shared by source, target and the tied,
// bias-free output projection, ReLU FFNs of which every moe_every-th is a
// GShard MoE layer (lib/moe), label-smoothed cross entropy.
//
// Training: forward(batch) then backward() (gradients accumulate into the
// weight table's flat gradient buffers; zero them with weights().zero_grads()).
// Decoding: encode() once per source batch, start_decoding(), then step() per
// output position, reorder() to follow beam back-pointers or drop rows.
//
// Ownership: the model owns its weight table, layer caches and workspaces
// (grow-only: steady-state steps do not allocate). EncoderOutput and
// DecoderState are plain values owned by the caller. A call to score(),
// encode() or step() discards the caches of a pending forward (backward()
// must directly follow its forward).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/model_config.h"
#include "model/weights.h"
#include "moe/moe_layer.h"
#include "nn/attention.h"
#include "nn/cross_entropy.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "util/collectives.h"
#include "util/rng.h"

namespace moe {

// One training or scoring batch, row-major, padded with pad_id.
struct Batch {
  std::int64_t batch = 0;              // B
  std::int64_t src_len = 0;            // S
  std::int64_t tgt_len = 0;            // T
  std::vector<std::int32_t> src;       // [B,S] source ids
  std::vector<std::int32_t> tgt_in;    // [B,T] decoder input: bos y1 y2 ...
  std::vector<std::int32_t> labels;    // [B,T] expected output: y1 y2 ... eos
};

struct MoeLayerReport {
  std::string name;  // "encoder.layer.1.moe"
  MoeStats stats;    // aux loss, per-expert top-1 load fractions, dropped fractions
};

// The parts of one forward's loss.
struct LossParts {
  double loss = 0;    // ls_nll + moe.aux_loss_coef * aux: what backward() differentiates
  double ls_nll = 0;  // label-smoothed NLL, mean over non-pad target tokens
  double nll = 0;     // NLL, mean over non-pad target tokens
  double aux = 0;     // sum over MoE layers of their aux loss (lingvo-normalised)
  std::int64_t tgt_tokens = 0;  // non-pad labels
  std::int64_t src_tokens = 0;  // non-pad source tokens
  std::vector<MoeLayerReport> moe;  // one per MoE layer, encoder first
};

// How backward() weighs this batch's loss terms.
struct LossWeights {
  double token_denominator = 0;  // divides the summed token losses; 0 = this batch's non-pad targets
  double aux_scale = 1;          // multiplies aux_loss_coef (1/shares for a mean over shares)
};

template <typename T>
struct EncoderOutput {
  std::int64_t batch = 0, src_len = 0;   // B, S
  Tensor<T> memory;                      // [B,S,M] final (normalised) encoder states
  std::vector<std::uint8_t> src_valid;   // [B*S] 1 = real source token
  std::vector<Tensor<T>> cross_kv;       // per decoder layer: [B,S,2*h*dk] keys | values
};

template <typename T>
struct DecoderState {
  std::int64_t rows = 0;                 // R live hypotheses
  std::int64_t step = 0;                 // positions decoded so far (same for every row)
  std::vector<std::int32_t> row_sentence;  // [R] sentence of the EncoderOutput each row extends
  std::vector<Tensor<T>> self_kv;        // per decoder layer: [R,capacity,2*h*dk] cached keys | values
  Tensor<T> scratch;                     // reorder() workspace
};

template <typename T>
class Transformer {
 public:
  // Registers, allocates and initialises every weight from `seed`.
  // expert_axis: the ranks sharing the experts (nullptr = single process).
  // gradients: kNone for a model that only decodes or scores (its weights
  // then come from a checkpoint); backward() refuses to run on it.
  // Throws InputError for an invalid config.
  Transformer(const ModelConfig& cfg, std::uint64_t seed, Collectives* expert_axis = nullptr,
              Gradients gradients = Gradients::kAllocate);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const ModelConfig& config() const { return cfg_; }
  WeightTable<T>& weights() { return weights_; }

  // Loss of one batch. training: dropout and MoE training routing on, and
  // the caches/gradients backward() needs are kept. rng: this step's stream
  // (dropout masks and random routing draw from it in a fixed order).
  // Throws InputError for malformed batches (sizes, ids outside the vocabulary,
  // sequences longer than max_positions).
  LossParts forward(const Batch& batch, bool training, Rng& rng);
  // Accumulates d(loss)/d(weights) of the last training forward into weights().grad*.
  // By default `loss` is this batch's own: label-smoothed NLL averaged over
  // its target tokens, plus aux_loss_coef times the summed aux losses. A
  // batch that is one share of a larger one (data-parallel ranks, gradient
  // accumulation) passes the whole's weights instead, so that summing the
  // shares' gradients gives exactly the whole's gradient.
  // on_group_final(g), if set, is called as soon as the gradients of group g
  // of backward_gradient_groups() are final for this backward, in that
  // list's order, so a data-parallel trainer can start their all-reduce while
  // backward continues (it must not write them until backward returns).
  void backward(const LossWeights& weights = {},
                const std::function<void(std::size_t group)>& on_group_final = {});
  // Weight-table entries [begin, end) (indices into weights().entries()) whose
  // gradients backward() completes together.
  struct GradientGroup {
    std::size_t begin = 0, end = 0;
  };
  // The order backward() completes gradients in: decoder.ln, the decoder
  // blocks last to first, encoder.ln, the encoder blocks last to first, then
  // embed (the tied embedding also gathers the output projection's and the
  // target embedding's gradients, so it is final only at the very end).
  // Every entry is in exactly one group.
  std::vector<GradientGroup> backward_gradient_groups() const;

  // Teacher-forced log-probabilities (evaluation mode): log_probs [B*T, V].
  void score(const Batch& batch, TensorView<T> log_probs);

  // ---- incremental decoding ----
  // src: [B,S] ids padded with pad_id.
  EncoderOutput<T> encode(const std::int32_t* src, std::int64_t batch, std::int64_t src_len);
  // `beam` rows per sentence: row r extends sentence r / beam.
  DecoderState<T> start_decoding(const EncoderOutput<T>& enc, std::int64_t beam) const;
  // Feeds tokens [R] (one per row; bos at step 0) at position state.step and
  // writes the next-token log-probabilities log_probs [R,V]; state.step += 1.
  void step(DecoderState<T>& state, const EncoderOutput<T>& enc, const std::int32_t* tokens,
            TensorView<T> log_probs);
  // New row i continues old row rows[i] (indices may repeat): follows beam
  // back-pointers, drops finished rows (rows shorter than state.rows) or
  // fans rows out (longer).
  void reorder(DecoderState<T>& state, const std::vector<std::int32_t>& rows) const;

  // ---- introspection (routing reports, tests) ----
  // The MoE layers of the decoder (else encoder) stack in layer order, named
  // as in training ("decoder.layer.1.moe"). Each layer's routes() hold the
  // per-token routes of its last call: encoder layers [B*S] of the last
  // encode() / forward() / score(); decoder layers [R] in row order after
  // step(), [B*T] after forward() / score(). Pointers live as long as the model.
  std::vector<std::pair<std::string, const MoeLayer<T>*>> moe_layers(bool decoder) const;
  // The ranks sharing the experts (nullptr = single process).
  Collectives* expert_axis() const { return expert_axis_; }

 private:
  struct Block;
  void add_weights();
  void bind(Block& b);
  // The gradient view of a weight; empty in a model built without gradients.
  TensorView<T> grad_or_empty(const std::string& name);
  static void check_batch(const Batch& batch);
  // Validates the batch and keeps its target side (dims, ids, validity mask).
  void load_batch(const Batch& batch);
  // Embeds ids [B,L] at position 0 and runs the encoder; memory -> enc_out_.
  void run_encoder(const std::int32_t* src, std::int64_t B, std::int64_t S, bool training,
                   Rng& rng);
  // Runs the decoder over tgt_in_ against enc_out_; final states -> dec_out_.
  void run_decoder(bool training, Rng& rng);
  // x: [B,L,M] block input -> out: [B,L,M] (a different buffer).
  void block_forward(Block& b, TensorView<const T> x, TensorView<T> out, const std::uint8_t* valid,
                     TensorView<const T> memory, bool training, Rng& rng);
  // Embeddings in stream_[0] -> output of the last block (one of stream_).
  TensorView<const T> run_blocks(std::vector<std::unique_ptr<Block>>& blocks,
                                 const std::uint8_t* valid, TensorView<const T> memory,
                                 bool training, Rng& rng);
  void block_backward(Block& b, TensorView<T> d_stream, TensorView<T> d_memory, T d_aux);

  ModelConfig cfg_;
  Collectives* expert_axis_;
  int expert_rank_ = 0, expert_shards_ = 1;
  WeightTable<T> weights_;
  Tensor<T> positions_;  // [max_positions, M]
  T emb_scale_;
  // Backward workspaces shared by all layers (declared before the blocks,
  // which point to them, so they outlive the blocks); without gradients the
  // MoE layers' forward activations too.
  AttentionScratch<T> attention_scratch_;
  Tensor<T> ffn_scratch_;
  MoeScratch<T> moe_scratch_;
  MoeActivations<T> moe_activations_;
  std::vector<std::unique_ptr<Block>> encoder_, decoder_;
  std::unique_ptr<LayerNorm<T>> enc_norm_, dec_norm_;
  NormParams<T> enc_norm_p_, enc_norm_g_, dec_norm_p_, dec_norm_g_;
  Dropout<T> src_emb_drop_, tgt_emb_drop_;
  TiedSoftmaxCrossEntropy<T> loss_;

  // The last forward.
  std::int64_t B_ = 0, S_ = 0, T_ = 0;
  std::vector<std::int32_t> src_, tgt_in_;
  std::vector<std::uint8_t> src_valid_, tgt_valid_;
  bool backward_ready_ = false;
  std::int64_t loss_tokens_ = 0;
  Tensor<T> enc_out_, dec_out_;  // [B,S,M] memory, [B,T,M] final decoder states
  // Workspaces (grow only).
  Tensor<T> stream_[2];          // [B,L,M] residual stream between blocks (ping-pong)
  Tensor<T> mid_[2];             // [B,L,M] residual stream inside a block
  Tensor<T> branch_;             // [N,M] sub-layer output before dropout + residual
  Tensor<T> d_stream_, d_branch_, d_norm_, d_memory_;
  Tensor<T> step_x_, step_norm_, step_branch_;
};

extern template class Transformer<float>;
extern template class Transformer<double>;

}  // namespace moe
