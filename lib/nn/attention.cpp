#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/gemm.h"
#include "tensor/ops.h"
#include "tensor/simd.h"

namespace moe {
namespace {

// Where one operand of every head lives: row r of batch item b, head h starts
// at base + (b * len + r) * ld + h * dk.
template <typename T>
struct HeadLayout {
  T* base;
  std::int64_t ld;
  T* at(std::int64_t b, std::int64_t len, std::int64_t h, std::int64_t dk) const {
    return base + b * len * ld + h * dk;
  }
};

// One query against `len` cached keys/values (incremental decoding).
// k/v rows are ld apart; valid (len bytes) may be null; out: dk values.
template <typename T>
void attend_one_plain(const T* q, const T* k, const T* v, std::int64_t ld, std::int64_t len,
                std::int64_t dk, const std::uint8_t* valid, T scale, T* scores, T* out) {
  for (std::int64_t j = 0; j < len; ++j) {
    if (valid && !valid[j]) {
      scores[j] = -std::numeric_limits<T>::infinity();
      continue;
    }
    const T* kj = k + j * ld;
    T dot = 0;
    for (std::int64_t c = 0; c < dk; ++c) dot += q[c] * kj[c];
    scores[j] = dot * scale;
  }
  softmax_inplace(scores, len);
  std::fill(out, out + dk, T(0));
  for (std::int64_t j = 0; j < len; ++j) {
    if (scores[j] == T(0)) continue;
    const T* vj = v + j * ld;
    for (std::int64_t c = 0; c < dk; ++c) out[c] += scores[j] * vj[c];
  }
}

// scores[0, len) -> softmax probabilities in place (simd::exp, -inf -> 0).
// Returns false, leaving scores as they are, when every score is -inf.
bool softmax_scores(float* scores, std::int64_t len) {
  using simd::V16;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  float mx = neg_inf;
  for (std::int64_t j = 0; j < len; ++j) mx = std::max(mx, scores[j]);
  if (mx == neg_inf) return false;
  const V16 shift = simd::splat(mx);
  const std::int64_t full = len / 16 * 16;
  V16 total{};
  for (std::int64_t j = 0; j < full; j += 16) {
    const V16 e = simd::exp(simd::load(scores + j) - shift);
    simd::store(scores + j, e);
    total += e;
  }
  if (full < len) {  // the last partial chunk, padded with -inf (exp 0)
    V16 x = simd::splat(neg_inf);
    for (std::int64_t j = full; j < len; ++j) x[j - full] = scores[j];
    const V16 e = simd::exp(x - shift);
    for (std::int64_t j = full; j < len; ++j) scores[j] = e[j - full];
    total += e;
  }
  const float inv = 1.0f / simd::sum(total);
  for (std::int64_t j = 0; j < len; ++j) scores[j] *= inv;
  return true;
}

// The float form for dk a multiple of 16 (every configuration in use):
// dot products in 16-lane partial sums (a scalar dot product cannot be
// vectorised without reassociating it), the softmax through simd::exp, and
// the weighted sum of values one 16-lane chunk at a time. One decoding step
// runs R x heads of these per layer against every cached position.
void attend_one_simd(const float* q, const float* k, const float* v, std::int64_t ld,
                     std::int64_t len, std::int64_t dk, const std::uint8_t* valid, float scale,
                     float* scores, float* out) {
  using simd::V16;
  for (std::int64_t j = 0; j < len; ++j) {
    if (valid && !valid[j]) {
      scores[j] = -std::numeric_limits<float>::infinity();
      continue;
    }
    const float* kj = k + j * ld;
    V16 acc{};
    for (std::int64_t c = 0; c < dk; c += 16) acc += simd::load(q + c) * simd::load(kj + c);
    scores[j] = simd::sum(acc) * scale;
  }
  if (!softmax_scores(scores, len)) {  // every key masked: a zero context, as softmax_inplace gives
    std::fill(out, out + dk, 0.0f);
    return;
  }
  for (std::int64_t c = 0; c < dk; c += 16) {
    V16 acc{};
    for (std::int64_t j = 0; j < len; ++j) acc += scores[j] * simd::load(v + j * ld + c);
    simd::store(out + c, acc);
  }
}

// Scores of four keys at once: their 16-lane partial sums reduced together
// (halves, quarters, then within each group of four lanes), a third of the
// shuffles that four separate simd::sum calls take.
inline simd::V16 sum4(simd::V16 a, simd::V16 b, simd::V16 c, simd::V16 d) {
  using simd::V16;
  const V16 x = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const V16 y = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const V16 z = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const V16 w = z + __builtin_shufflevector(z, z, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  return w + __builtin_shufflevector(w, w, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
}  // lanes 0, 4, 8, 12: the sums of a, b, c, d

// attend_one_simd for d_kv = 16 C with C fixed: the query and the context
// stay in registers, keys are scored four at a time.
template <int C>
void attend_one_fixed(const float* q, const float* k, const float* v, std::int64_t ld,
                      std::int64_t len, const std::uint8_t* valid, float scale, float* scores,
                      float* out) {
  using simd::V16;
  V16 qv[C];
  for (int c = 0; c < C; ++c) qv[c] = simd::load(q + 16 * c) * scale;
  auto partial = [&](std::int64_t j) {
    V16 acc{};
    for (int c = 0; c < C; ++c) acc += qv[c] * simd::load(k + j * ld + 16 * c);
    return acc;
  };
  std::int64_t j = 0;
  for (; j + 4 <= len; j += 4) {
    const V16 s = sum4(partial(j), partial(j + 1), partial(j + 2), partial(j + 3));
    for (int i = 0; i < 4; ++i) scores[j + i] = s[4 * i];
  }
  for (; j < len; ++j) scores[j] = simd::sum(partial(j));
  if (valid)
    for (j = 0; j < len; ++j)
      if (!valid[j]) scores[j] = -std::numeric_limits<float>::infinity();
  if (!softmax_scores(scores, len)) {  // every key masked: a zero context
    std::fill(out, out + 16 * C, 0.0f);
    return;
  }
  V16 o[C] = {};
  for (j = 0; j < len; ++j)
    for (int c = 0; c < C; ++c) o[c] += scores[j] * simd::load(v + j * ld + 16 * c);
  for (int c = 0; c < C; ++c) simd::store(out + 16 * c, o[c]);
}

template <typename T>
void attend_one(const T* q, const T* k, const T* v, std::int64_t ld, std::int64_t len,
                std::int64_t dk, const std::uint8_t* valid, T scale, T* scores, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    switch (dk) {  // the widths in use; any other multiple of 16 takes the general loop
      case 32: attend_one_fixed<2>(q, k, v, ld, len, valid, scale, scores, out); return;
      case 64: attend_one_fixed<4>(q, k, v, ld, len, valid, scale, scores, out); return;
      case 128: attend_one_fixed<8>(q, k, v, ld, len, valid, scale, scores, out); return;
      default: break;
    }
    if (dk % 16 == 0) {
      attend_one_simd(q, k, v, ld, len, dk, valid, scale, scores, out);
      return;
    }
  }
  attend_one_plain(q, k, v, ld, len, dk, valid, scale, scores, out);
}

}  // namespace

template <typename T>
Attention<T>::Attention(const AttentionConfig& cfg, AttentionScratch<T>* scratch)
    : cfg_(cfg), scale_(static_cast<T>(1.0 / std::sqrt(static_cast<double>(cfg.d_kv)))),
      dropout_(cfg.dropout),
      own_scratch_(scratch ? nullptr : std::make_unique<AttentionScratch<T>>()),
      scratch_(scratch ? scratch : own_scratch_.get()) {
  MOE_CHECK(cfg.heads > 0 && cfg.d_kv > 0 && cfg.d_model > 0, "attention dimensions");
}

template <typename T>
void Attention<T>::forward(const AttentionParams<T>& p, TensorView<const T> x,
                           TensorView<const T> memory, const std::uint8_t* key_valid,
                           TensorView<T> y, bool training, Rng& rng) {
  const bool cross = cfg_.kind == AttentionKind::kCross;
  const bool causal = cfg_.kind == AttentionKind::kCausalSelf;
  MOE_CHECK(x.rank() == 3 && x.dim(2) == cfg_.d_model, "attention input " + x.shape().str());
  check_shape(y.shape(), x.shape(), "attention output");
  const std::int64_t B = x.dim(0), Lq = x.dim(1), H = cfg_.heads, dk = cfg_.d_kv, hd = inner();
  std::int64_t Lk = Lq;
  if (cross) {
    MOE_CHECK(memory.rank() == 3 && memory.dim(0) == B && memory.dim(2) == cfg_.d_model,
              "attention memory " + memory.shape().str() + " for queries " + x.shape().str());
    Lk = memory.dim(1);
  }
  Cache& c = cache_;
  c.x = x;
  c.memory = memory;
  c.batch = B;
  c.len_q = Lq;
  c.len_k = Lk;

  HeadLayout<T> qh, kh, vh;
  if (cross) {
    c.proj.resize(Shape{B, Lq, hd});
    linear_forward<T>(p.q, x, c.proj.view());
    c.memory_kv.resize(Shape{B, Lk, 2 * hd});
    linear_forward<T>(p.kv, memory, c.memory_kv.view());
    qh = {c.proj.data(), hd};
    kh = {c.memory_kv.data(), 2 * hd};
    vh = {c.memory_kv.data() + hd, 2 * hd};
  } else {
    c.proj.resize(Shape{B, Lq, 3 * hd});
    linear_forward<T>(p.qkv, x, c.proj.view());
    qh = {c.proj.data(), 3 * hd};
    kh = {c.proj.data() + hd, 3 * hd};
    vh = {c.proj.data() + 2 * hd, 3 * hd};
  }

  c.probs.resize(Shape{B, H, Lq, Lk});
  const T neg_inf = -std::numeric_limits<T>::infinity();
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1 && B * H * Lq * Lk * dk > (1 << 15))
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H;
    T* s = c.probs.data() + bh * Lq * Lk;
    gemm<T>(Trans::kNo, Trans::kYes, Lq, Lk, dk, scale_, qh.at(b, Lq, h, dk), qh.ld,
            kh.at(b, Lk, h, dk), kh.ld, T(0), s, Lk);
    const std::uint8_t* valid = key_valid ? key_valid + b * Lk : nullptr;
    for (std::int64_t i = 0; i < Lq; ++i) {
      T* row = s + i * Lk;
      for (std::int64_t j = 0; j < Lk; ++j)
        if ((causal && j > i) || (valid && !valid[j])) row[j] = neg_inf;
      softmax_inplace(row, Lk);
    }
  }

  const T* weights = c.probs.data();
  if (training && cfg_.dropout > 0) {
    c.dropped.resize(c.probs.shape());
    c.dropped.view().copy_from(c.probs.view());
    dropout_.forward_inplace(c.dropped.view(), training, rng);
    weights = c.dropped.data();
  } else {
    dropout_.forward_inplace(c.probs.view(), false, rng);  // records "inactive"
  }

  c.context.resize(Shape{B, Lq, hd});
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1 && B * H * Lq * Lk * dk > (1 << 15))
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H;
    gemm<T>(Trans::kNo, Trans::kNo, Lq, dk, Lk, T(1), weights + bh * Lq * Lk, Lk,
            vh.at(b, Lk, h, dk), vh.ld, T(0), c.context.data() + b * Lq * hd + h * dk, hd);
  }
  linear_forward<T>(p.out, c.context.view(), y);
}

template <typename T>
void Attention<T>::backward(const AttentionParams<T>& p, const AttentionParams<T>& g,
                            TensorView<const T> dy, TensorView<T> dx, bool accumulate_dx,
                            TensorView<T> dmemory) {
  const bool cross = cfg_.kind == AttentionKind::kCross;
  Cache& c = cache_;
  const std::int64_t B = c.batch, Lq = c.len_q, Lk = c.len_k, H = cfg_.heads, dk = cfg_.d_kv,
                     hd = inner();
  check_shape(dy.shape(), c.x.shape(), "attention dy");
  scratch_->d_context.resize(Shape{B, Lq, hd});
  linear_backward<T>(p.out, g.out, c.context.view(), dy, scratch_->d_context.view());

  HeadLayout<T> qh, kh, vh, dqh, dkh, dvh;
  if (cross) {
    scratch_->d_proj.resize(Shape{B, Lq, hd});
    scratch_->d_memory_kv.resize(Shape{B, Lk, 2 * hd});
    qh = {c.proj.data(), hd};
    kh = {c.memory_kv.data(), 2 * hd};
    vh = {c.memory_kv.data() + hd, 2 * hd};
    dqh = {scratch_->d_proj.data(), hd};
    dkh = {scratch_->d_memory_kv.data(), 2 * hd};
    dvh = {scratch_->d_memory_kv.data() + hd, 2 * hd};
  } else {
    scratch_->d_proj.resize(Shape{B, Lq, 3 * hd});
    qh = {c.proj.data(), 3 * hd};
    kh = {c.proj.data() + hd, 3 * hd};
    vh = {c.proj.data() + 2 * hd, 3 * hd};
    dqh = {scratch_->d_proj.data(), 3 * hd};
    dkh = {scratch_->d_proj.data() + hd, 3 * hd};
    dvh = {scratch_->d_proj.data() + 2 * hd, 3 * hd};
  }
  const T* weights = dropout_.active() ? c.dropped.data() : c.probs.data();
  scratch_->d_probs.resize(c.probs.shape());
  const T* dctx = scratch_->d_context.data();
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1 && B * H * Lq * Lk * dk > (1 << 15))
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H;
    const T* dctx_bh = dctx + b * Lq * hd + h * dk;
    // d(weights) = dctx V^T ; dV = weights^T dctx
    gemm<T>(Trans::kNo, Trans::kYes, Lq, Lk, dk, T(1), dctx_bh, hd, vh.at(b, Lk, h, dk), vh.ld,
            T(0), scratch_->d_probs.data() + bh * Lq * Lk, Lk);
    gemm<T>(Trans::kYes, Trans::kNo, Lk, dk, Lq, T(1), weights + bh * Lq * Lk, Lk, dctx_bh, hd,
            T(0), dvh.at(b, Lk, h, dk), dvh.ld);
  }
  dropout_.backward_inplace(scratch_->d_probs.view());
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1 && B * H * Lq * Lk * dk > (1 << 15))
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H;
    T* ds = scratch_->d_probs.data() + bh * Lq * Lk;
    const T* pr = c.probs.data() + bh * Lq * Lk;
    for (std::int64_t i = 0; i < Lq; ++i) {  // softmax backward, row by row
      T dot = 0;
      for (std::int64_t j = 0; j < Lk; ++j) dot += ds[i * Lk + j] * pr[i * Lk + j];
      for (std::int64_t j = 0; j < Lk; ++j)
        ds[i * Lk + j] = pr[i * Lk + j] * (ds[i * Lk + j] - dot);
    }
    // scores = scale * Q K^T  =>  dQ = scale * dS K ; dK = scale * dS^T Q
    gemm<T>(Trans::kNo, Trans::kNo, Lq, dk, Lk, scale_, ds, Lk, kh.at(b, Lk, h, dk), kh.ld, T(0),
            dqh.at(b, Lq, h, dk), dqh.ld);
    gemm<T>(Trans::kYes, Trans::kNo, Lk, dk, Lq, scale_, ds, Lk, qh.at(b, Lq, h, dk), qh.ld, T(0),
            dkh.at(b, Lk, h, dk), dkh.ld);
  }
  if (cross) {
    linear_backward<T>(p.q, g.q, c.x, scratch_->d_proj.view(), dx, accumulate_dx);
    check_shape(dmemory.shape(), c.memory.shape(), "attention dmemory");
    linear_backward<T>(p.kv, g.kv, c.memory, scratch_->d_memory_kv.view(), dmemory, true);
  } else {
    linear_backward<T>(p.qkv, g.qkv, c.x, scratch_->d_proj.view(), dx, accumulate_dx);
  }
}

template <typename T>
void Attention<T>::project_memory(const AttentionParams<T>& p, TensorView<const T> memory,
                                  TensorView<T> memory_kv) const {
  MOE_CHECK(cfg_.kind == AttentionKind::kCross, "project_memory on a self-attention layer");
  linear_forward<T>(p.kv, memory, memory_kv);
}

template <typename T>
void Attention<T>::step_self(const AttentionParams<T>& p, TensorView<const T> x,
                             TensorView<T> kv_cache, std::int64_t t, TensorView<T> y) {
  const std::int64_t R = x.shape().rows(), H = cfg_.heads, dk = cfg_.d_kv, hd = inner();
  MOE_CHECK(kv_cache.rank() == 3 && kv_cache.dim(0) == R && kv_cache.dim(2) == 2 * hd &&
                t < kv_cache.dim(1),
            "self-attention cache " + kv_cache.shape().str() + " at step " + std::to_string(t));
  const std::int64_t cap = kv_cache.dim(1);
  cache_.proj.resize(Shape{R, 3 * hd});
  linear_forward<T>(p.qkv, x, cache_.proj.view());
  cache_.context.resize(Shape{R, hd});
  scratch_->step_scores.resize(Shape{R * H, t + 1});
#pragma omp parallel for if (R * H * (t + 1) * dk > (1 << 14))
  for (std::int64_t r = 0; r < R; ++r) {
    const T* pr = cache_.proj.data() + r * 3 * hd;
    T* rows = kv_cache.data() + r * cap * 2 * hd;
    std::copy(pr + hd, pr + 3 * hd, rows + t * 2 * hd);
    for (std::int64_t h = 0; h < H; ++h)
      attend_one(pr + h * dk, rows + h * dk, rows + hd + h * dk, 2 * hd, t + 1, dk,
                 static_cast<const std::uint8_t*>(nullptr), scale_,
                 scratch_->step_scores.data() + (r * H + h) * (t + 1),
                 cache_.context.data() + r * hd + h * dk);
  }
  linear_forward<T>(p.out, cache_.context.view(), y);
}

template <typename T>
void Attention<T>::step_cross(const AttentionParams<T>& p, TensorView<const T> x,
                              TensorView<const T> memory_kv, const std::int32_t* row_sentence,
                              const std::uint8_t* key_valid, TensorView<T> y) {
  const std::int64_t R = x.shape().rows(), H = cfg_.heads, dk = cfg_.d_kv, hd = inner();
  MOE_CHECK(memory_kv.rank() == 3 && memory_kv.dim(2) == 2 * hd,
            "cross-attention memory " + memory_kv.shape().str());
  const std::int64_t B = memory_kv.dim(0), S = memory_kv.dim(1);
  cache_.proj.resize(Shape{R, hd});
  linear_forward<T>(p.q, x, cache_.proj.view());
  cache_.context.resize(Shape{R, hd});
  scratch_->step_scores.resize(Shape{R * H, S});
  for (std::int64_t r = 0; r < R; ++r)  // checked here: nothing may throw inside the loop below
    MOE_CHECK(row_sentence[r] >= 0 && row_sentence[r] < B,
              "row " + std::to_string(r) + " maps to sentence " + std::to_string(row_sentence[r]) +
                  " of " + std::to_string(B));
#pragma omp parallel for if (R * H * S * dk > (1 << 14))
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int64_t b = row_sentence[r];
    const T* kv = memory_kv.data() + b * S * 2 * hd;
    for (std::int64_t h = 0; h < H; ++h)
      attend_one(cache_.proj.data() + r * hd + h * dk, kv + h * dk, kv + hd + h * dk, 2 * hd, S,
                 dk, key_valid ? key_valid + b * S : nullptr, scale_,
                 scratch_->step_scores.data() + (r * H + h) * S, cache_.context.data() + r * hd + h * dk);
  }
  linear_forward<T>(p.out, cache_.context.view(), y);
}

template class Attention<float>;
template class Attention<double>;

}  // namespace moe
