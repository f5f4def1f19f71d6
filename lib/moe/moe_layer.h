#pragma once
// The GShard position-wise MoE layer (GSHARD.md §3-§5, docs/moe.md): a top-2
// (or Switch top-1) gated mixture of E ReLU FFN experts without biases,
//
//   y_s = sum_e G[s,e] * wo_e^T relu(wi_e^T x_s),
//
// with tokens gated in groups of S, per-group expert capacity C, and the
// lingvo-normalised auxiliary load-balancing loss. Dispatch and combine are
// sparse (each token carries at most two (expert, slot, weight) triples);
// the dense GSEC tensors of the paper are never built.
//
// Shapes (glossary: N tokens, M model dim, H expert hidden dim, E experts of
// the layer across all ranks, E_local = E / D experts on this rank of the
// expert axis of D ranks, S group size, G groups, C capacity):
//   x, y, dx, dy   [N, M]     tokens of the batch in order, padding included
//   nonpad         [N]        1 = real token, 0 = padding (never dispatched)
//   wg             [M, E]     gate, replicated on every rank
//   wi             [E_local, M, H]   this rank's experts (global e = rank*E_local + l)
//   wo             [E_local, H, M]
//
// Ownership: the layer owns its forward cache and workspaces (they only grow,
// so steady-state steps do not allocate); parameters, gradients, inputs and
// outputs are caller-owned views that must stay valid for the call only (x is
// copied into the cache). One forward, then at most one backward, per object.
#include <cstdint>
#include <memory>
#include <vector>

#include "moe/moe_config.h"
#include "tensor/gemm.h"
#include "tensor/tensor.h"
#include "util/collectives.h"
#include "util/rng.h"

namespace moe {

// Diagnostics of one forward call, over this rank's tokens (lingvo logs the same).
struct MoeStats {
  double aux_loss = 0;                  // lingvo-normalised aux (x E^2, mean over groups)
  std::vector<double> expert_load;      // [E] fraction of real tokens whose top-1 is e (pre-capacity)
  double dropped_fraction = 0;          // fraction of real tokens with no expert at all
  double dropped_first_fraction = 0;    // first choices over capacity / real tokens
  double dropped_second_fraction = 0;   // second choices over capacity / second choices the policy kept
  std::int64_t tokens = 0;              // real tokens routed
  std::int64_t groups = 0;              // G, groups of S tokens (the last may be partial)
  std::int64_t capacity = 0;            // C, slots per expert per group
};

// How the second choice of each token is treated in one call. The layer
// resolves MoeConfig into this: `random` at evaluation becomes `all`.
struct RoutingRule {
  int top_k = 2;  // 1 = Switch top-1 (no second choice)
  SecondExpertPolicy policy = SecondExpertPolicy::kAll;
  double threshold = 0.5;  // random: keep iff u < g2/threshold; threshold: keep iff g2 > threshold
};

// One token's routing (GSHARD.md §3.3 steps 2-9). Index 0 = first choice, 1 = second.
template <typename T>
struct TokenRoute {
  std::int32_t expert[2] = {-1, -1};  // e1, e2; -1 = none (padding token, or slot 1 under top-1)
  // Slot in the expert's per-group buffer, numbered as lingvo does before
  // dropping (exclusive cumsum; all first choices of the group precede any
  // second choice), so it may be >= C for a dropped choice; -1 for no choice
  // (padding, top-1's slot 1, a second choice the policy skipped).
  std::int64_t position[2] = {-1, -1};
  bool selected2 = false;             // the second choice passed the policy (before capacity)
  bool kept[2] = {false, false};      // dispatched: selected and position < C
  // Top-2: g_k / (g1 + g2 + 1e-9), top-1: the softmax probability; before dropping.
  T gate[2] = {0, 0};
  T weight[2] = {0, 0};               // combine weight: gate * kept (no renormalisation)
};

// Per-group routing counts; vectors have E entries (reused across calls).
struct GroupRoutingSummary {
  std::int64_t real_tokens = 0;
  std::vector<std::int64_t> top1_count;    // c_e: real tokens whose top-1 is e, pre-capacity
  std::vector<std::int64_t> second_count;  // second choices on e that passed the policy, pre-capacity
  std::vector<std::int64_t> filled;        // slots used in e's buffer (<= C): positions 0..filled-1
  std::vector<double> gate_sum;            // sum over real tokens of gates[s,e]
  std::int64_t dropped_first = 0;          // first choices with position >= C
  std::int64_t dropped_second = 0;         // selected second choices with position >= C
  std::int64_t fully_dropped = 0;          // real tokens with no kept choice
  // E * sum_e (c_e/n) * (gate_sum_e/n) with n = real_tokens (padding is in
  // neither numerator nor denominator); 0 when the group has no real token.
  double aux = 0;
};

// Routes one group: gates [S,E] (softmax output, one row per token), nonpad
// [S] (nullptr = all real), capacity C. `uniforms` is read only under the
// random policy with top_k 2: one draw per real token of the group, in token
// order. Writes routes [S] and summary. Ties between gates go to the lowest
// expert index.
template <typename T>
void route_group(const T* gates, const std::uint8_t* nonpad, std::int64_t S, int E,
                 std::int64_t C, const RoutingRule& rule, const double* uniforms,
                 TokenRoute<T>* routes, GroupRoutingSummary& summary);

// Wall time spent in MoE layers outside their GEMMs, summed over every layer
// and call of the process, counted only while GEMM timing is on
// (set_gemm_timing in tensor/gemm.h): the training step's time breakdown.
// Monotonic; callers take differences. Like gemm_seconds, a number for one
// calling thread at a time (the trainer's).
struct MoeTimes {
  double routing = 0;   // forward + backward minus GEMMs minus exchange: gate softmax, top-2
                        // routing, slots, dispatch / combine copies, aux loss, their gradients
  double exchange = 0;  // the expert all-to-alls (counts and tokens), waits for peers included
};
MoeTimes moe_times();

// Buffers that live only inside one forward or backward call: every MoE
// layer of a model can share one set (they only grow), as its attention and
// FFN layers share theirs. With L MoE layers that saves L-1 copies of the
// backward's [E_local*R, H] hidden gradient, the largest.
template <typename T>
struct MoeScratch {
  Tensor<T> exchange;        // all_to_all landing buffer, token-side layout (expert axis only)
  Tensor<T> d_token_side;    // [E*G*C, M] dLoss/d(expert output), later d(expert input), token side
  Tensor<T> d_compute_side;  // [E_local*R, M] the same, compute side (expert axis only)
  Tensor<T> grad_hidden;     // [E_local*R, H]
  Tensor<T> d_logits;        // [N,E]
  std::vector<T> d_weight;   // [N,2]
};

// The expert activations that one forward leaves for its backward. A model
// that never runs backward (translation) shares one set across its layers.
template <typename T>
struct MoeActivations {
  Tensor<T> dispatched;  // token side inputs (also the compute side without an axis)
  Tensor<T> expert_in;   // compute side inputs (expert axis only)
  Tensor<T> hidden;      // relu(expert_in . wi)  [E_local*R, H]
  Tensor<T> expert_out;  // hidden . wo           [E_local*R, M]
  Tensor<T> returned;    // token side outputs (expert axis only)
};

// How MoeLayer runs its expert GEMMs (see set_expert_gemms).
enum class ExpertGemms {
  kAuto,       // batched when experts are evenly filled (>= 90% of the batched rows real)
  kBatched,    // one gemm_batched over local experts at the fullest expert's height
  kPerExpert,  // one gemm per expert at its own filled height (skips every empty slot)
};

template <typename T>
class MoeLayer {
 public:
  struct Params {
    TensorView<T> wg;  // [M, E]
    TensorView<T> wi;  // [E_local, M, H]
    TensorView<T> wo;  // [E_local, H, M]
  };

  // expert_axis: the ranks that share this layer's experts (nullptr or size
  // 1 = all experts local, no exchange). scratch: per-call buffers shared
  // with other layers (not owned; must outlive the layer), nullptr = own.
  // shared_activations: the same for the forward's expert activations, for a
  // layer that never runs backward (backward then throws); nullptr = own.
  // Throws InputError for a bad cfg or when E is not a multiple of the axis
  // size.
  MoeLayer(const MoeConfig& cfg, std::int64_t d_model, std::int64_t d_hidden,
           Collectives* expert_axis, MoeScratch<T>* scratch = nullptr,
           MoeActivations<T>* shared_activations = nullptr);

  // x: [N,M] tokens of the batch in order (padding included); nonpad: N
  // bytes, 1 = real token (nullptr = all real). y: [N,M], overwritten;
  // padding and fully dropped tokens get exactly 0. `training` selects the
  // capacity factor and whether the random policy draws from rng (one
  // uniform_double per real token, in token order); at evaluation random
  // behaves as all. With an expert axis every rank must call forward together
  // with the same N (else all ranks throw InputError).
  MoeStats forward(const Params& p, TensorView<const T> x, const std::uint8_t* nonpad,
                   TensorView<T> y, bool training, Rng& rng);

  // dy: [N,M]; d_aux: dLoss/d(this layer's aux_loss). Accumulates into
  // g.wg / g.wi / g.wo (raw sums over this rank's tokens for wg and over
  // every rank's tokens for this rank's experts: the caller owns any
  // data-parallel averaging). Writes dx [N,M].
  void backward(const Params& p, const Params& g, TensorView<const T> dy, T d_aux,
                TensorView<T> dx);

  // For tests and benchmarks; the default kAuto decides per call.
  void set_expert_gemms(ExpertGemms mode) { gemm_mode_ = mode; }

  std::int64_t local_experts() const { return local_experts_; }
  // Of the last forward: per-token routes [N] and the capacity C used.
  const std::vector<TokenRoute<T>>& routes() const { return routes_; }
  std::int64_t capacity() const { return capacity_; }
  // Of the last forward: filled rows of the fullest local expert, of all
  // local experts together, and whether the expert GEMMs ran batched.
  std::int64_t expert_rows() const { return max_rows_; }
  std::int64_t filled_expert_rows() const { return filled_rows_; }
  bool expert_gemms_batched() const { return batched_; }

 private:
  void check_params(const Params& p, const char* what) const;
  void route_all(bool training, Rng& rng);
  void assign_slots();
  MoeStats summarise() const;
  // Expert axis only (without one the token side is the compute side):
  // token side [E][G*C][M] -> all_to_all -> compute side [E_local][R][M], rows
  // compacted per expert, tail rows up to max_rows_ zeroed.
  void to_experts(Tensor<T>& token_side, Tensor<T>& compute_side);
  // Compute side -> token side: the mirror of to_experts.
  void to_tokens(const Tensor<T>& compute_side, Tensor<T>& token_side);
  void zero_tail_rows(Tensor<T>& compute_side) const;
  // Calls copy_rows(exchange_row, compute_row, rows) for every (source rank,
  // local expert) block of filled rows, in parallel over local experts.
  template <typename CopyRows>
  void for_each_source_block(CopyRows copy_rows) const;
  void exchange_counts();
  // Rows of local expert l that expert_gemm computes: max_rows_ when batched,
  // its own count otherwise (the rows past it are then never written).
  std::int64_t gemm_rows(std::int64_t l) const { return batched_ ? max_rows_ : compute_counts_[l]; }
  enum class RowDim { kM, kK };  // the expert's row count is the product's m, or its k
  // C_l = op(A_l) op(B_l) + beta C_l for each local expert l, with m or k the
  // expert's rows (all at max_rows_ when batched) and the other two d1, d2.
  void expert_gemm(RowDim rows, Trans ta, Trans tb, std::int64_t d1, std::int64_t d2, const T* a,
                   std::int64_t lda, std::int64_t stride_a, const T* b, std::int64_t ldb,
                   std::int64_t stride_b, T beta, T* c, std::int64_t ldc, std::int64_t stride_c) const;

  MoeConfig cfg_;
  std::int64_t d_model_, d_hidden_;
  int experts_, local_experts_, ranks_ = 1;
  Collectives* axis_ = nullptr;  // null when there is no exchange

  // Shapes of the last forward.
  bool has_forward_ = false;
  std::int64_t tokens_ = 0, groups_ = 0, capacity_ = 0;
  std::int64_t token_rows_ = 0;    // G*C: rows per expert on the token side (G: the largest of the ranks')
  std::vector<float> rank_groups_;  // [D] every rank's G, to agree on the block size
  std::int64_t compute_rows_ = 0;  // D*G*C: rows per local expert on the compute side
  std::int64_t max_rows_ = 0;      // filled rows of the fullest local expert (GEMM height)
  std::int64_t filled_rows_ = 0;   // filled rows of all local experts
  ExpertGemms gemm_mode_ = ExpertGemms::kAuto;
  bool batched_ = true;            // this call's expert GEMMs run as one gemm_batched

  // Routing cache.
  RoutingRule rule_;
  Tensor<T> x_;                         // [N,M] copy of the input (for dwg)
  Tensor<T> probs_;                     // [N,E] softmax gates
  std::vector<std::uint8_t> nonpad_;    // [N]
  std::vector<double> uniforms_;        // [real tokens] random-policy draws
  std::vector<std::int64_t> draw_offset_;  // [G+1] first draw of each group
  std::vector<TokenRoute<T>> routes_;   // [N]
  std::vector<GroupRoutingSummary> group_summaries_;  // [G]
  std::vector<std::int64_t> group_base_;  // [G,E] first token-side row of group g in e's buffer
  std::vector<std::int64_t> slot_row_;    // [N,2] token-side row of each kept choice, -1 if none
  std::vector<std::int64_t> token_counts_;    // [E] filled token-side rows per expert
  std::vector<std::int64_t> compute_counts_;  // [E_local] filled compute-side rows
  std::vector<std::int64_t> source_counts_;   // [D,E_local] rows each rank sent to each local expert
  Tensor<T> count_send_, count_recv_;          // [D, E_local+1] counts and G*C as T for all_to_all

  // Activations (token side [E*G*C, M]; compute side [E_local*R, M|H]) and
  // per-call buffers: the layer's own, or sets it shares (constructor).
  std::unique_ptr<MoeActivations<T>> own_activations_;
  MoeActivations<T>* act_;
  std::unique_ptr<MoeScratch<T>> own_scratch_;
  MoeScratch<T>* scratch_;
};

extern template class MoeLayer<float>;
extern template class MoeLayer<double>;

}  // namespace moe
