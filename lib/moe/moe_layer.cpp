#include "moe/moe_layer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>

#include "tensor/gemm.h"
#include "util/error.h"

namespace moe {
namespace {
// Below this many elements touched, an OpenMP team costs more than it saves
// (decoding steps route a handful of tokens).
constexpr std::int64_t kParallelMinWork = 1 << 15;

std::atomic<std::int64_t> g_routing_ns{0}, g_exchange_ns{0};

std::int64_t nanoseconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count();
}

// Times one all-to-all into g_exchange_ns while GEMM timing is on.
class ExchangeTimer {
 public:
  ExchangeTimer() : on_(gemm_timing()) {
    if (on_) start_ = std::chrono::steady_clock::now();
  }
  ~ExchangeTimer() {
    if (on_) g_exchange_ns.fetch_add(nanoseconds_since(start_), std::memory_order_relaxed);
  }
  ExchangeTimer(const ExchangeTimer&) = delete;
  ExchangeTimer& operator=(const ExchangeTimer&) = delete;

 private:
  bool on_;
  std::chrono::steady_clock::time_point start_;
};

// Times a whole forward or backward while GEMM timing is on and adds what its
// GEMMs and exchanges did not take to g_routing_ns.
class RoutingTimer {
 public:
  RoutingTimer() : on_(gemm_timing()) {
    if (!on_) return;
    start_ = std::chrono::steady_clock::now();
    gemm_start_ = gemm_seconds();
    exchange_start_ = g_exchange_ns.load(std::memory_order_relaxed);
  }
  ~RoutingTimer() {
    if (!on_) return;
    const auto gemm_ns = static_cast<std::int64_t>(1e9 * (gemm_seconds() - gemm_start_));
    const std::int64_t exchange_ns = g_exchange_ns.load(std::memory_order_relaxed) - exchange_start_;
    g_routing_ns.fetch_add(std::max<std::int64_t>(0, nanoseconds_since(start_) - gemm_ns - exchange_ns),
                           std::memory_order_relaxed);
  }
  RoutingTimer(const RoutingTimer&) = delete;
  RoutingTimer& operator=(const RoutingTimer&) = delete;

 private:
  bool on_;
  std::chrono::steady_clock::time_point start_;
  double gemm_start_ = 0;
  std::int64_t exchange_start_ = 0;
};
}  // namespace

MoeTimes moe_times() {
  return {1e-9 * static_cast<double>(g_routing_ns.load(std::memory_order_relaxed)),
          1e-9 * static_cast<double>(g_exchange_ns.load(std::memory_order_relaxed))};
}

template <typename T>
void route_group(const T* gates, const std::uint8_t* nonpad, std::int64_t S, int E,
                 std::int64_t C, const RoutingRule& rule, const double* uniforms,
                 TokenRoute<T>* routes, GroupRoutingSummary& sm) {
  sm.real_tokens = 0;
  sm.top1_count.assign(E, 0);
  sm.second_count.assign(E, 0);
  sm.filled.assign(E, 0);
  sm.gate_sum.assign(E, 0.0);
  sm.dropped_first = sm.dropped_second = sm.fully_dropped = 0;
  sm.aux = 0;
  const bool top2 = rule.top_k == 2;

  // Pass 1 (steps 2-7): choices, normalised gates, the policy, and the
  // pre-capacity positions (exclusive cumsums) of first and second choices.
  for (std::int64_t s = 0; s < S; ++s) {
    TokenRoute<T>& r = routes[s];
    r = TokenRoute<T>{};
    if (nonpad && !nonpad[s]) continue;
    const T* g = gates + s * E;
    ++sm.real_tokens;
    for (int e = 0; e < E; ++e) sm.gate_sum[e] += static_cast<double>(g[e]);
    int e1 = 0;
    for (int e = 1; e < E; ++e)
      if (g[e] > g[e1]) e1 = e;
    r.expert[0] = e1;
    r.position[0] = sm.top1_count[e1]++;
    if (!top2) {
      r.gate[0] = g[e1];
      continue;
    }
    int e2 = e1 == 0 ? 1 : 0;
    for (int e = e2 + 1; e < E; ++e)
      if (e != e1 && g[e] > g[e2]) e2 = e;
    const T denominator = g[e1] + g[e2] + T(1e-9);
    r.expert[1] = e2;
    r.gate[0] = g[e1] / denominator;
    r.gate[1] = g[e2] / denominator;
    switch (rule.policy) {
      case SecondExpertPolicy::kAll: r.selected2 = true; break;
      case SecondExpertPolicy::kRandom:
        r.selected2 = *uniforms++ < static_cast<double>(r.gate[1]) / rule.threshold;
        break;
      case SecondExpertPolicy::kThreshold:
        r.selected2 = static_cast<double>(r.gate[1]) > rule.threshold;
        break;
    }
    if (r.selected2) r.position[1] = sm.second_count[e2]++;
  }

  // Pass 2 (steps 6, 8, 9): every first choice that fits outranks every
  // second choice, so second positions start after the kept first choices.
  std::vector<std::int64_t>& kept_first = sm.filled;  // reused as scratch, final value below
  for (int e = 0; e < E; ++e) kept_first[e] = std::min(sm.top1_count[e], C);
  for (std::int64_t s = 0; s < S; ++s) {
    TokenRoute<T>& r = routes[s];
    if (r.expert[0] < 0) continue;
    r.kept[0] = r.position[0] < C;
    r.weight[0] = r.kept[0] ? r.gate[0] : T(0);
    if (!r.kept[0]) ++sm.dropped_first;
    if (r.selected2) {
      r.position[1] += kept_first[r.expert[1]];
      r.kept[1] = r.position[1] < C;
      r.weight[1] = r.kept[1] ? r.gate[1] : T(0);
      if (!r.kept[1]) ++sm.dropped_second;
    }
    if (!r.kept[0] && !r.kept[1]) ++sm.fully_dropped;
  }
  for (int e = 0; e < E; ++e) sm.filled[e] = std::min(C, sm.top1_count[e] + sm.second_count[e]);

  if (sm.real_tokens > 0) {
    const double n = static_cast<double>(sm.real_tokens);
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += static_cast<double>(sm.top1_count[e]) * sm.gate_sum[e];
    sm.aux = E * sum / (n * n);
  }
}

template <typename T>
MoeLayer<T>::MoeLayer(const MoeConfig& cfg, std::int64_t d_model, std::int64_t d_hidden,
                      Collectives* expert_axis, MoeScratch<T>* scratch,
                      MoeActivations<T>* shared_activations)
    : cfg_(cfg),
      d_model_(d_model),
      d_hidden_(d_hidden),
      experts_(cfg.num_experts),
      own_activations_(shared_activations ? nullptr : std::make_unique<MoeActivations<T>>()),
      act_(shared_activations ? shared_activations : own_activations_.get()),
      own_scratch_(scratch ? nullptr : std::make_unique<MoeScratch<T>>()),
      scratch_(scratch ? scratch : own_scratch_.get()) {
  validate(cfg);
  if (d_model < 1 || d_hidden < 1)
    throw InputError("moe layer: d_model and d_hidden must be >= 1, got " +
                     std::to_string(d_model) + " and " + std::to_string(d_hidden));
  if (expert_axis != nullptr && expert_axis->size() > 1) {
    axis_ = expert_axis;
    ranks_ = expert_axis->size();
  }
  if (experts_ % ranks_ != 0)
    throw InputError("moe.num_experts: " + std::to_string(experts_) +
                     " experts cannot be split evenly over " + std::to_string(ranks_) +
                     " expert-parallel ranks");
  local_experts_ = experts_ / ranks_;
}

template <typename T>
void MoeLayer<T>::check_params(const Params& p, const char* what) const {
  check_shape(p.wg.shape(), Shape{d_model_, experts_}, what);
  check_shape(p.wi.shape(), Shape{local_experts_, d_model_, d_hidden_}, what);
  check_shape(p.wo.shape(), Shape{local_experts_, d_hidden_, d_model_}, what);
}

template <typename T>
void MoeLayer<T>::route_all(bool training, Rng& rng) {
  rule_.top_k = cfg_.top_k;
  rule_.threshold = cfg_.second_expert_threshold;
  rule_.policy = cfg_.second_expert_policy;
  if (rule_.policy == SecondExpertPolicy::kRandom && !training) rule_.policy = SecondExpertPolicy::kAll;
  const bool draws = rule_.top_k == 2 && rule_.policy == SecondExpertPolicy::kRandom;

  const std::int64_t S = cfg_.group_size;
  group_summaries_.resize(groups_);
  draw_offset_.assign(groups_ + 1, 0);
  for (std::int64_t g = 0; g < groups_; ++g) {
    const std::int64_t end = std::min(tokens_, (g + 1) * S);
    draw_offset_[g + 1] = draw_offset_[g] + std::count(nonpad_.begin() + g * S, nonpad_.begin() + end, 1);
  }
  uniforms_.resize(draws ? draw_offset_[groups_] : 0);
  // One draw per real token in token order, whatever the grouping or threading.
  for (double& u : uniforms_) u = rng.uniform_double();

  routes_.resize(tokens_);
#pragma omp parallel for schedule(dynamic, 1) if (tokens_ * experts_ > kParallelMinWork)
  for (std::int64_t g = 0; g < groups_; ++g) {
    const std::int64_t begin = g * S, count = std::min(tokens_, begin + S) - begin;
    route_group<T>(probs_.data() + begin * experts_, nonpad_.data() + begin, count, experts_,
                   capacity_, rule_, draws ? uniforms_.data() + draw_offset_[g] : nullptr,
                   routes_.data() + begin, group_summaries_[g]);
  }
}

template <typename T>
void MoeLayer<T>::assign_slots() {
  // Each expert's token-side rows hold group 0's filled prefix, then group
  // 1's, ...: every filled row is in a prefix of the expert's G*C rows, so the
  // expert GEMMs can stop at the fullest expert's count.
  group_base_.resize(groups_ * experts_);
  token_counts_.assign(experts_, 0);
  for (std::int64_t g = 0; g < groups_; ++g)
    for (int e = 0; e < experts_; ++e) {
      group_base_[g * experts_ + e] = token_counts_[e];
      token_counts_[e] += group_summaries_[g].filled[e];
    }
  slot_row_.resize(2 * tokens_);
  const std::int64_t S = cfg_.group_size;
#pragma omp parallel for schedule(static) if (tokens_ > kParallelMinWork)
  for (std::int64_t s = 0; s < tokens_; ++s) {
    const TokenRoute<T>& r = routes_[s];
    for (int k = 0; k < 2; ++k) {
      const int e = r.expert[k];
      slot_row_[2 * s + k] =
          r.kept[k] ? e * token_rows_ + group_base_[(s / S) * experts_ + e] + r.position[k] : -1;
    }
  }
}

template <typename T>
void MoeLayer<T>::exchange_counts() {
  compute_counts_.assign(local_experts_, 0);
  if (axis_ == nullptr) {
    compute_counts_ = token_counts_;
  } else {
    // Each block carries the counts for the receiver's experts and the
    // sender's G*C, which must agree on every rank for the all_to_all block
    // sizes to match: every rank sees every value, so all of them throw
    // together instead of some waiting forever. Counts travel as T, exact
    // below 2^24 (float's mantissa).
    MOE_CHECK(token_rows_ < (std::int64_t{1} << 24), "G*C too large to exchange exactly");
    const int block = local_experts_ + 1;
    count_send_.resize(Shape{ranks_ * block});
    count_recv_.resize(Shape{ranks_ * block});
    for (int r = 0; r < ranks_; ++r) {
      for (int l = 0; l < local_experts_; ++l)
        count_send_[r * block + l] = static_cast<T>(token_counts_[r * local_experts_ + l]);
      count_send_[r * block + local_experts_] = static_cast<T>(token_rows_);
    }
    {
      const ExchangeTimer timer;
      axis_->all_to_all(count_send_.data(), count_recv_.data(), static_cast<std::size_t>(block));
    }
    source_counts_.resize(experts_);  // [D source][E_local]
    for (int src = 0; src < ranks_; ++src) {
      const auto their_rows = static_cast<std::int64_t>(count_recv_[src * block + local_experts_]);
      if (their_rows != token_rows_)
        throw InputError("moe layer: expert-parallel ranks disagree on groups x capacity (" +
                         std::to_string(token_rows_) + " here, " + std::to_string(their_rows) +
                         " on rank " + std::to_string(src) +
                         "): every rank must pass the same number of tokens");
      for (int l = 0; l < local_experts_; ++l) {
        source_counts_[src * local_experts_ + l] = static_cast<std::int64_t>(count_recv_[src * block + l]);
        compute_counts_[l] += source_counts_[src * local_experts_ + l];
      }
    }
  }
  max_rows_ = *std::max_element(compute_counts_.begin(), compute_counts_.end());
  filled_rows_ = 0;
  for (std::int64_t c : compute_counts_) filled_rows_ += c;
  // One batched call is the better schedule while few of its rows are empty;
  // under skewed routing, per-expert products skip the empty slots.
  batched_ = gemm_mode_ == ExpertGemms::kBatched ||
             (gemm_mode_ == ExpertGemms::kAuto &&
              10 * filled_rows_ >= 9 * static_cast<std::int64_t>(local_experts_) * max_rows_);
}

template <typename T>
void MoeLayer<T>::expert_gemm(RowDim rows, Trans ta, Trans tb, std::int64_t d1, std::int64_t d2,
                              const T* a, std::int64_t lda, std::int64_t stride_a, const T* b,
                              std::int64_t ldb, std::int64_t stride_b, T beta, T* c,
                              std::int64_t ldc, std::int64_t stride_c) const {
  auto product = [&](std::int64_t r, std::int64_t& m, std::int64_t& n, std::int64_t& k) {
    m = rows == RowDim::kM ? r : d1;
    n = rows == RowDim::kM ? d1 : d2;
    k = rows == RowDim::kM ? d2 : r;
  };
  std::int64_t m, n, k;
  if (batched_) {
    product(max_rows_, m, n, k);
    gemm_batched<T>(ta, tb, local_experts_, m, n, k, T(1), a, lda, stride_a, b, ldb, stride_b, beta,
                    c, ldc, stride_c);
    return;
  }
  for (int l = 0; l < local_experts_; ++l) {
    product(compute_counts_[l], m, n, k);
    gemm<T>(ta, tb, m, n, k, T(1), a + l * stride_a, lda, b + l * stride_b, ldb, beta,
            c + l * stride_c, ldc);
  }
}

template <typename T>
void MoeLayer<T>::zero_tail_rows(Tensor<T>& compute_side) const {
  const std::int64_t width = compute_side.shape().back();
  for (int l = 0; l < local_experts_; ++l) {
    T* first = compute_side.data() + (l * compute_rows_ + compute_counts_[l]) * width;
    std::fill(first, first + (max_rows_ - compute_counts_[l]) * width, T(0));
  }
}

template <typename T>
template <typename CopyRows>
void MoeLayer<T>::for_each_source_block(CopyRows copy_rows) const {
  // Block (source rank, local expert l) of the exchange layout [D][E_local][G*C]
  // <-> the same rows' place in l's compacted compute-side buffer.
#pragma omp parallel for schedule(static) if (local_experts_ > 1 && max_rows_ * d_model_ > kParallelMinWork)
  for (int l = 0; l < local_experts_; ++l) {
    std::int64_t offset = 0;
    for (int src = 0; src < ranks_; ++src) {
      const std::int64_t rows = source_counts_[src * local_experts_ + l];
      copy_rows((src * local_experts_ + l) * token_rows_, l * compute_rows_ + offset, rows);
      offset += rows;
    }
  }
}

template <typename T>
void MoeLayer<T>::to_experts(Tensor<T>& token_side, Tensor<T>& compute_side) {
  const std::int64_t M = token_side.shape().back();
  scratch_->exchange.resize(Shape{experts_ * token_rows_, M});
  {
    const ExchangeTimer timer;
    axis_->all_to_all(token_side.data(), scratch_->exchange.data(),
                      static_cast<std::size_t>(local_experts_ * token_rows_ * M));
  }
  compute_side.resize(Shape{local_experts_ * compute_rows_, M});
  for_each_source_block([&](std::int64_t exchange_row, std::int64_t compute_row, std::int64_t rows) {
    const T* from = scratch_->exchange.data() + exchange_row * M;
    std::copy(from, from + rows * M, compute_side.data() + compute_row * M);
  });
  zero_tail_rows(compute_side);
}

template <typename T>
void MoeLayer<T>::to_tokens(const Tensor<T>& compute_side, Tensor<T>& token_side) {
  const std::int64_t M = compute_side.shape().back();
  scratch_->exchange.resize(Shape{experts_ * token_rows_, M});
  for_each_source_block([&](std::int64_t exchange_row, std::int64_t compute_row, std::int64_t rows) {
    const T* from = compute_side.data() + compute_row * M;
    std::copy(from, from + rows * M, scratch_->exchange.data() + exchange_row * M);
  });
  token_side.resize(Shape{experts_ * token_rows_, M});
  const ExchangeTimer timer;
  axis_->all_to_all(scratch_->exchange.data(), token_side.data(),
                    static_cast<std::size_t>(local_experts_ * token_rows_ * M));
}

template <typename T>
MoeStats MoeLayer<T>::forward(const Params& p, TensorView<const T> x, const std::uint8_t* nonpad,
                              TensorView<T> y, bool training, Rng& rng) {
  const RoutingTimer timer;
  check_params(p, "MoeLayer::forward params");
  const std::int64_t N = x.rank() == 2 ? x.dim(0) : -1;
  check_shape(x.shape(), Shape{std::max<std::int64_t>(N, 0), d_model_}, "MoeLayer::forward x");
  check_shape(y.shape(), x.shape(), "MoeLayer::forward y");
  const std::int64_t M = d_model_, H = d_hidden_, E = experts_, L = local_experts_;
  const std::int64_t S = cfg_.group_size;
  tokens_ = N;
  groups_ = (N + S - 1) / S;
  // Capacity from the full S, also for a partial last group (docs/moe.md).
  capacity_ = expert_capacity(cfg_, S, training);
  // The all-to-all blocks hold G*C rows per expert on every rank. Data shares
  // of different lengths give ranks different G, so the blocks take the
  // largest: a rank with fewer groups sends empty rows for the missing ones.
  std::int64_t block_groups = groups_;
  if (axis_ != nullptr && ranks_ > 1) {
    const float mine = static_cast<float>(groups_);
    rank_groups_.resize(ranks_);
    axis_->all_gather(&mine, rank_groups_.data(), 1);
    for (float g : rank_groups_) block_groups = std::max(block_groups, static_cast<std::int64_t>(g));
  }
  token_rows_ = block_groups * capacity_;
  compute_rows_ = ranks_ * token_rows_;

  x_.resize(Shape{N, M});
  x_.view().copy_from(x);
  if (nonpad != nullptr) {
    nonpad_.assign(nonpad, nonpad + N);
  } else {
    nonpad_.assign(N, 1);
  }
  for (std::uint8_t& b : nonpad_) b = b != 0;

  // Gate (step 1), in T: float32 for the float build as GShard requires.
  probs_.resize(Shape{N, E});
  gemm<T>(Trans::kNo, Trans::kNo, N, E, M, T(1), x.data(), M, p.wg.data(), E, T(0), probs_.data(), E);
#pragma omp parallel for schedule(static) if (N * E > kParallelMinWork)
  for (std::int64_t s = 0; s < N; ++s) {
    T* row = probs_.data() + s * E;
    const T top = *std::max_element(row, row + E);
    T sum = 0;
    for (std::int64_t e = 0; e < E; ++e) sum += row[e] = std::exp(row[e] - top);
    for (std::int64_t e = 0; e < E; ++e) row[e] /= sum;
  }

  route_all(training, rng);
  assign_slots();
  has_forward_ = true;

  act_->dispatched.resize(Shape{E * token_rows_, M});
#pragma omp parallel for schedule(static) if (N * M > kParallelMinWork)
  for (std::int64_t s = 0; s < N; ++s)
    for (int k = 0; k < 2; ++k) {
      const std::int64_t row = slot_row_[2 * s + k];
      if (row >= 0) std::copy(x.row(s), x.row(s) + M, act_->dispatched.data() + row * M);
    }

  exchange_counts();
  Tensor<T>* expert_in = &act_->dispatched;
  if (axis_ != nullptr) {
    to_experts(act_->dispatched, act_->expert_in);
    expert_in = &act_->expert_in;
  } else {
    zero_tail_rows(act_->dispatched);
  }

  const std::int64_t R = compute_rows_;
  act_->hidden.resize(Shape{L * R, H});
  act_->expert_out.resize(Shape{L * R, M});
  expert_gemm(RowDim::kM, Trans::kNo, Trans::kNo, H, M, expert_in->data(), M, R * M, p.wi.data(),
              H, M * H, T(0), act_->hidden.data(), H, R * H);
#pragma omp parallel for schedule(static) if (L > 1 && max_rows_ * H > kParallelMinWork)
  for (std::int64_t l = 0; l < L; ++l) {
    T* h = act_->hidden.data() + l * R * H;
    const std::int64_t n = gemm_rows(l) * H;  // hoisted: a bound re-read each pass defeats vectorisation
    for (std::int64_t i = 0; i < n; ++i) h[i] = std::max(h[i], T(0));
  }
  expert_gemm(RowDim::kM, Trans::kNo, Trans::kNo, M, H, act_->hidden.data(), H, R * H,
              p.wo.data(), M, H * M, T(0), act_->expert_out.data(), M, R * M);

  const T* out = act_->expert_out.data();
  if (axis_ != nullptr) {
    to_tokens(act_->expert_out, act_->returned);
    out = act_->returned.data();
  }
#pragma omp parallel for schedule(static) if (N * M > kParallelMinWork)
  for (std::int64_t s = 0; s < N; ++s) {
    T* ys = y.row(s);
    std::fill(ys, ys + M, T(0));
    for (int k = 0; k < 2; ++k) {
      const std::int64_t row = slot_row_[2 * s + k];
      if (row < 0) continue;
      const T w = routes_[s].weight[k];
      const T* o = out + row * M;
      for (std::int64_t m = 0; m < M; ++m) ys[m] += w * o[m];
    }
  }
  return summarise();
}

template <typename T>
MoeStats MoeLayer<T>::summarise() const {
  MoeStats st;
  st.groups = groups_;
  st.capacity = capacity_;
  st.expert_load.assign(experts_, 0.0);
  std::int64_t groups_with_tokens = 0, dropped_first = 0, dropped_second = 0, fully = 0;
  std::int64_t second_selected = 0;
  for (const GroupRoutingSummary& g : group_summaries_) {
    if (g.real_tokens == 0) continue;
    ++groups_with_tokens;
    st.tokens += g.real_tokens;
    st.aux_loss += g.aux;
    dropped_first += g.dropped_first;
    dropped_second += g.dropped_second;
    fully += g.fully_dropped;
    for (int e = 0; e < experts_; ++e) {
      st.expert_load[e] += static_cast<double>(g.top1_count[e]);
      second_selected += g.second_count[e];
    }
  }
  if (st.tokens == 0) return st;
  const double n = static_cast<double>(st.tokens);
  st.aux_loss /= static_cast<double>(groups_with_tokens);
  for (double& v : st.expert_load) v /= n;
  st.dropped_fraction = static_cast<double>(fully) / n;
  st.dropped_first_fraction = static_cast<double>(dropped_first) / n;
  if (second_selected > 0)
    st.dropped_second_fraction = static_cast<double>(dropped_second) / static_cast<double>(second_selected);
  return st;
}

template <typename T>
void MoeLayer<T>::backward(const Params& p, const Params& g, TensorView<const T> dy, T d_aux,
                           TensorView<T> dx) {
  const RoutingTimer timer;
  MOE_CHECK(has_forward_, "MoeLayer::backward without a forward");
  MOE_CHECK(own_activations_ != nullptr,
            "MoeLayer::backward: the layer shares its forward activations (built for inference)");
  check_params(p, "MoeLayer::backward params");
  check_params(g, "MoeLayer::backward grads");
  check_shape(dy.shape(), Shape{tokens_, d_model_}, "MoeLayer::backward dy");
  check_shape(dx.shape(), Shape{tokens_, d_model_}, "MoeLayer::backward dx");
  const std::int64_t N = tokens_, M = d_model_, H = d_hidden_, E = experts_, L = local_experts_;
  const std::int64_t R = compute_rows_;
  const T* out = axis_ != nullptr ? act_->returned.data() : act_->expert_out.data();

  // Combine backward: d(expert output row) = w * dy_s; dw = <dy_s, output row>.
  scratch_->d_token_side.resize(Shape{E * token_rows_, M});
  scratch_->d_weight.resize(2 * N);
#pragma omp parallel for schedule(static) if (N * M > kParallelMinWork)
  for (std::int64_t s = 0; s < N; ++s)
    for (int k = 0; k < 2; ++k) {
      const std::int64_t row = slot_row_[2 * s + k];
      scratch_->d_weight[2 * s + k] = 0;
      if (row < 0) continue;
      const T w = routes_[s].weight[k];
      const T* dys = dy.row(s);
      const T* o = out + row * M;
      T* d = scratch_->d_token_side.data() + row * M;
      T dot = 0;
      for (std::int64_t m = 0; m < M; ++m) {
        dot += dys[m] * o[m];
        d[m] = w * dys[m];
      }
      scratch_->d_weight[2 * s + k] = dot;
    }

  Tensor<T>* d_out = &scratch_->d_token_side;
  Tensor<T>* expert_in = &act_->dispatched;
  if (axis_ != nullptr) {
    to_experts(scratch_->d_token_side, scratch_->d_compute_side);
    d_out = &scratch_->d_compute_side;
    expert_in = &act_->expert_in;
  } else {
    zero_tail_rows(scratch_->d_token_side);
  }

  // Experts backward; rows past an expert's count are zero in both the
  // inputs and d_out, so they add nothing to the weight gradients.
  scratch_->grad_hidden.resize(Shape{L * R, H});
  expert_gemm(RowDim::kK, Trans::kYes, Trans::kNo, H, M, act_->hidden.data(), H, R * H,
              d_out->data(), M, R * M, T(1), g.wo.data(), M, H * M);
  expert_gemm(RowDim::kM, Trans::kNo, Trans::kYes, H, M, d_out->data(), M, R * M, p.wo.data(), M,
              H * M, T(0), scratch_->grad_hidden.data(), H, R * H);
#pragma omp parallel for schedule(static) if (L > 1 && max_rows_ * H > kParallelMinWork)
  for (std::int64_t l = 0; l < L; ++l) {
    T* dh = scratch_->grad_hidden.data() + l * R * H;
    const T* h = act_->hidden.data() + l * R * H;
    const std::int64_t n = gemm_rows(l) * H;
    for (std::int64_t i = 0; i < n; ++i)
      if (!(h[i] > T(0))) dh[i] = 0;
  }
  expert_gemm(RowDim::kK, Trans::kYes, Trans::kNo, M, H, expert_in->data(), M, R * M,
              scratch_->grad_hidden.data(), H, R * H, T(1), g.wi.data(), H, M * H);
  // d(expert input) overwrites d_out, which is no longer needed.
  expert_gemm(RowDim::kM, Trans::kNo, Trans::kYes, M, H, scratch_->grad_hidden.data(), H, R * H,
              p.wi.data(), H, M * H, T(0), d_out->data(), M, R * M);
  if (axis_ != nullptr) to_tokens(scratch_->d_compute_side, scratch_->d_token_side);

  // Dispatch backward (a copy, so a sum of the kept rows) and the gate:
  // combine weights -> normalisation -> softmax, plus the aux loss's m_e term
  // d aux / d p[s,e] = E c_e / (G' n_g^2) (GSHARD.md §4).
  std::int64_t groups_with_tokens = 0;
  for (const GroupRoutingSummary& gs : group_summaries_) groups_with_tokens += gs.real_tokens > 0;
  const std::int64_t S = cfg_.group_size;
  scratch_->d_logits.resize(Shape{N, E});
#pragma omp parallel for schedule(static) if (N * M > kParallelMinWork)
  for (std::int64_t s = 0; s < N; ++s) {
    T* dxs = dx.row(s);
    T* dl = scratch_->d_logits.data() + s * E;
    std::fill(dxs, dxs + M, T(0));
    std::fill(dl, dl + E, T(0));
    if (!nonpad_[s]) continue;
    for (int k = 0; k < 2; ++k) {
      const std::int64_t row = slot_row_[2 * s + k];
      if (row < 0) continue;
      const T* d = scratch_->d_token_side.data() + row * M;
      for (std::int64_t m = 0; m < M; ++m) dxs[m] += d[m];
    }
    const TokenRoute<T>& r = routes_[s];
    const T* prob = probs_.data() + s * E;
    T* dp = dl;  // dLoss/d(prob), turned into dLoss/d(logit) in place below
    const T dw1 = scratch_->d_weight[2 * s], dw2 = scratch_->d_weight[2 * s + 1];
    if (cfg_.top_k == 1) {
      dp[r.expert[0]] += dw1;
    } else {
      const T p1 = prob[r.expert[0]], p2 = prob[r.expert[1]];
      const T den = p1 + p2 + T(1e-9);
      const T den2 = den * den;
      dp[r.expert[0]] += dw1 * (den - p1) / den2 - dw2 * p2 / den2;
      dp[r.expert[1]] += dw2 * (den - p2) / den2 - dw1 * p1 / den2;
    }
    if (d_aux != T(0)) {
      const GroupRoutingSummary& gs = group_summaries_[s / S];
      const double n = static_cast<double>(gs.real_tokens);
      const double scale = static_cast<double>(d_aux) * static_cast<double>(E) /
                           (static_cast<double>(groups_with_tokens) * n * n);
      for (std::int64_t e = 0; e < E; ++e)
        dp[e] += static_cast<T>(scale * static_cast<double>(gs.top1_count[e]));
    }
    T inner = 0;
    for (std::int64_t e = 0; e < E; ++e) inner += prob[e] * dp[e];
    for (std::int64_t e = 0; e < E; ++e) dl[e] = prob[e] * (dp[e] - inner);
  }
  gemm<T>(Trans::kNo, Trans::kYes, N, M, E, T(1), scratch_->d_logits.data(), E, p.wg.data(), E, T(1),
          dx.data(), M);
  gemm<T>(Trans::kYes, Trans::kNo, M, E, N, T(1), x_.data(), M, scratch_->d_logits.data(), E, T(1),
          g.wg.data(), E);
}

#define MOE_INSTANTIATE_LAYER(T)                                                               \
  template void route_group<T>(const T*, const std::uint8_t*, std::int64_t, int, std::int64_t, \
                               const RoutingRule&, const double*, TokenRoute<T>*,              \
                               GroupRoutingSummary&);                                          \
  template class MoeLayer<T>;
MOE_INSTANTIATE_LAYER(float)
MOE_INSTANTIATE_LAYER(double)
#undef MOE_INSTANTIATE_LAYER

}  // namespace moe
