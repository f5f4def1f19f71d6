#pragma once
// Multi-head scaled dot-product attention (torchref MultiHeadAttention), in
// three kinds: encoder self-attention with a key padding mask, causal decoder
// self-attention (plus the target's key padding mask, as torchref), and
// decoder-to-encoder cross-attention. heads * d_kv may differ from d_model.
//
// Full-sequence forward/backward is used for training and scoring; the step_*
// functions are the incremental form for beam search (one new position per
// call, keys/values cached), and compute the same function.
#include <cstdint>
#include <memory>

#include "nn/dropout.h"
#include "nn/linear.h"

namespace moe {

enum class AttentionKind { kSelf, kCausalSelf, kCross };

struct AttentionConfig {
  std::int64_t d_model = 512;  // M
  std::int64_t heads = 8;      // h
  std::int64_t d_kv = 64;      // dk, per-head query/key/value width
  AttentionKind kind = AttentionKind::kSelf;
  double dropout = 0.0;        // on the attention probabilities (training only)
};

// Views into the weight table (not owned). Self-attention kinds use qkv;
// cross-attention uses q (applied to the decoder states) and kv (applied to
// the encoder memory). Unused members stay empty.
template <typename T>
struct AttentionParams {
  LinearParams<T> qkv;  // w [M, 3*h*dk] column blocks q | k | v, b [3*h*dk]
  LinearParams<T> q;    // w [M, h*dk], b [h*dk]
  LinearParams<T> kv;   // w [M, 2*h*dk] column blocks k | v, b [2*h*dk]
  LinearParams<T> out;  // w [h*dk, M], b [M]
};

// Workspaces used only inside one backward (or decoding step) call, so all
// attention layers of a model can share one set (grow-only).
template <typename T>
struct AttentionScratch {
  Tensor<T> d_context;    // [B,Lq,hd]
  Tensor<T> d_probs;      // [B,h,Lq,Lk]
  Tensor<T> d_proj;       // [B,Lq,3hd] (self) or [B,Lq,hd] (cross)
  Tensor<T> d_memory_kv;  // [B,Lk,2hd]
  Tensor<T> step_scores;  // [R*h, keys] decoding step scores
};

template <typename T>
class Attention {
 public:
  // scratch: shared backward workspaces (not owned; must outlive the layer);
  // nullptr = the layer keeps its own.
  explicit Attention(const AttentionConfig& cfg, AttentionScratch<T>* scratch = nullptr);
  const AttentionConfig& config() const { return cfg_; }

  // x: [B,Lq,M] queries (and keys/values for the self kinds); memory: [B,Lk,M]
  // encoder output for kCross (ignored otherwise); key_valid: B*Lk bytes,
  // 1 = real token, 0 = padding (nullptr = no padding); y: [B,Lq,M].
  // x, memory and key_valid must stay alive until backward (cached as views).
  // A query whose keys are all masked gets a zero context (not NaN).
  void forward(const AttentionParams<T>& p, TensorView<const T> x, TensorView<const T> memory,
               const std::uint8_t* key_valid, TensorView<T> y, bool training, Rng& rng);
  // dy: [B,Lq,M]. Accumulates into g; writes dx (adds when accumulate_dx);
  // for kCross adds the memory's gradient into dmemory [B,Lk,M].
  void backward(const AttentionParams<T>& p, const AttentionParams<T>& g, TensorView<const T> dy,
                TensorView<T> dx, bool accumulate_dx, TensorView<T> dmemory);

  // ---- incremental decoding (no dropout, no backward) ----
  // kCross: the per-sentence keys/values, computed once per source batch.
  // memory: [B,S,M] -> memory_kv: [B,S,2*h*dk].
  void project_memory(const AttentionParams<T>& p, TensorView<const T> memory,
                      TensorView<T> memory_kv) const;
  // Causal self-attention for position t of R rows. x: [R,M]; kv_cache:
  // [R,capacity,2*h*dk] holding positions < t; this step's keys/values are
  // written at position t (t < capacity). y: [R,M].
  void step_self(const AttentionParams<T>& p, TensorView<const T> x, TensorView<T> kv_cache,
                 std::int64_t t, TensorView<T> y);
  // Cross-attention for R rows. row_sentence[r] is the sentence (index into
  // memory_kv's B) that row r translates; key_valid: B*S bytes or nullptr.
  void step_cross(const AttentionParams<T>& p, TensorView<const T> x,
                  TensorView<const T> memory_kv, const std::int32_t* row_sentence,
                  const std::uint8_t* key_valid, TensorView<T> y);

 private:
  std::int64_t inner() const { return cfg_.heads * cfg_.d_kv; }

  AttentionConfig cfg_;
  T scale_;  // 1 / sqrt(dk)
  Dropout<T> dropout_;
  struct Cache {
    TensorView<const T> x, memory;  // views of the inputs
    std::int64_t batch = 0, len_q = 0, len_k = 0;
    Tensor<T> proj;       // self: [B,Lq,3hd] q|k|v; cross: [B,Lq,hd] q
    Tensor<T> memory_kv;  // cross: [B,Lk,2hd] k|v
    Tensor<T> probs;      // [B,h,Lq,Lk] softmax output (before dropout)
    Tensor<T> dropped;    // [B,h,Lq,Lk] probs after dropout (only when dropout is active)
    Tensor<T> context;    // [B,Lq,hd] heads concatenated
  } cache_;
  std::unique_ptr<AttentionScratch<T>> own_scratch_;  // when none is shared
  AttentionScratch<T>* scratch_;
};

}  // namespace moe
