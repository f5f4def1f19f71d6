#include "nn/cross_entropy.h"

#include <algorithm>
#include <cmath>

#include "tensor/gemm.h"
#include "tensor/ops.h"

namespace moe {

template <typename T>
TiedSoftmaxCrossEntropy<T>::TiedSoftmaxCrossEntropy(double label_smoothing, std::int32_t pad_id,
                                                    std::int64_t chunk_elements)
    : eps_(label_smoothing), pad_(pad_id), chunk_elements_(chunk_elements) {
  MOE_CHECK(label_smoothing >= 0 && label_smoothing < 1, "label smoothing out of [0,1)");
}

template <typename T>
CrossEntropySums TiedSoftmaxCrossEntropy<T>::forward(TensorView<const T> h, TensorView<const T> emb,
                                                     const std::int32_t* labels, bool want_grad) {
  const std::int64_t n = h.shape().rows(), d = h.shape().back(), vocab = emb.dim(0);
  MOE_CHECK(emb.rank() == 2 && emb.dim(1) == d, "tied projection: h " + h.shape().str() +
                                                     " emb " + emb.shape().str());
  for (std::int64_t i = 0; i < n; ++i)
    if (labels[i] != pad_ && (labels[i] < 0 || labels[i] >= vocab))
      throw InputError("label id " + std::to_string(labels[i]) + " outside the vocabulary of " +
                       std::to_string(vocab));
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min(n, chunk_elements_ / vocab));
  logits_.resize(Shape{chunk, vocab});
  row_nll_.resize(chunk);
  row_smoothed_.resize(chunk);
  have_grad_ = want_grad;
  if (want_grad) {
    dh_.resize(Shape{n, d});
    demb_.resize_zero(Shape{vocab, d});
  }
  const T eps = static_cast<T>(eps_), inv_v = T(1) / static_cast<T>(vocab);
  CrossEntropySums sums;
  for (std::int64_t r0 = 0; r0 < n; r0 += chunk) {
    const std::int64_t rows = std::min(chunk, n - r0);
    const T* hc = h.data() + r0 * d;
    gemm<T>(Trans::kNo, Trans::kYes, rows, vocab, d, T(1), hc, d, emb.data(), d, T(0),
            logits_.data(), vocab);
    // Per-row results, summed serially below: the totals do not depend on
    // the thread count.
#pragma omp parallel for if (rows * vocab > (1 << 15))
    for (std::int64_t r = 0; r < rows; ++r) {
      T* z = logits_.data() + r * vocab;
      const std::int32_t label = labels[r0 + r];
      row_nll_[r] = row_smoothed_[r] = 0;
      if (label == pad_) {
        if (want_grad) std::fill(z, z + vocab, T(0));
        continue;
      }
      // One exp pass: z becomes exp(z - max), from which both the log-sum-exp
      // and (for the gradient) the probabilities follow.
      T mx = z[0], sum_z = 0;
      for (std::int64_t v = 0; v < vocab; ++v) {
        mx = std::max(mx, z[v]);
        sum_z += z[v];
      }
      const T z_label = z[label];
      T sum_exp = 0;
      for (std::int64_t v = 0; v < vocab; ++v) {
        z[v] = std::exp(z[v] - mx);
        sum_exp += z[v];
      }
      const T lse = mx + std::log(sum_exp);
      const double token_nll = static_cast<double>(lse - z_label);
      const double token_smooth = static_cast<double>(lse - sum_z * inv_v);
      row_nll_[r] = token_nll;
      row_smoothed_[r] = (1.0 - eps_) * token_nll + eps_ * token_smooth;
      if (want_grad) {  // d/dz = softmax(z) - (1-eps) onehot(label) - eps/V
        const T inv_sum = T(1) / sum_exp, uniform = eps * inv_v;
        for (std::int64_t v = 0; v < vocab; ++v) z[v] = z[v] * inv_sum - uniform;
        z[label] -= T(1) - eps;
      }
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      sums.smoothed += row_smoothed_[r];
      sums.nll += row_nll_[r];
      sums.tokens += labels[r0 + r] != pad_;
    }
    if (want_grad) {
      gemm<T>(Trans::kNo, Trans::kNo, rows, d, vocab, T(1), logits_.data(), vocab, emb.data(), d,
              T(0), dh_.data() + r0 * d, d);
      gemm<T>(Trans::kYes, Trans::kNo, vocab, d, rows, T(1), logits_.data(), vocab, hc, d, T(1),
              demb_.data(), d);
    }
  }
  return sums;
}

template <typename T>
void TiedSoftmaxCrossEntropy<T>::backward(T scale, TensorView<T> dh, TensorView<T> gemb) const {
  MOE_CHECK(have_grad_, "cross entropy backward without a want_grad forward");
  check_shape(dh.shape(), dh_.shape(), "cross entropy dh");
  check_shape(gemb.shape(), demb_.shape(), "cross entropy gemb");
  const std::int64_t n = dh.numel(), m = gemb.numel();
  const T* src = dh_.data();
  T* dst = dh.data();
#pragma omp parallel for simd if (n > (1 << 15))
  for (std::int64_t i = 0; i < n; ++i) dst[i] = scale * src[i];
  const T* de = demb_.data();
  T* ge = gemb.data();
#pragma omp parallel for simd if (m > (1 << 15))
  for (std::int64_t i = 0; i < m; ++i) ge[i] += scale * de[i];
}

template <typename T>
void tied_log_probs(TensorView<const T> h, TensorView<const T> emb, TensorView<T> log_probs) {
  const std::int64_t n = h.shape().rows(), d = h.shape().back(), vocab = emb.dim(0);
  MOE_CHECK(emb.dim(1) == d && log_probs.shape().rows() == n && log_probs.shape().back() == vocab,
            "tied_log_probs: h " + h.shape().str() + " emb " + emb.shape().str() + " out " +
                log_probs.shape().str());
  gemm<T>(Trans::kNo, Trans::kYes, n, vocab, d, T(1), h.data(), d, emb.data(), d, T(0),
          log_probs.data(), vocab);
  log_softmax_rows_inplace<T>(log_probs.reshaped(Shape{n, vocab}));
}

template class TiedSoftmaxCrossEntropy<float>;
template class TiedSoftmaxCrossEntropy<double>;
template void tied_log_probs<float>(TensorView<const float>, TensorView<const float>,
                                    TensorView<float>);
template void tied_log_probs<double>(TensorView<const double>, TensorView<const double>,
                                     TensorView<double>);

}  // namespace moe
