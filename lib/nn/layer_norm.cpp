#include "nn/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tensor/simd.h"

namespace moe {

std::string to_string(NormType t) { return t == NormType::kLayerNorm ? "layer_norm" : "rms_norm"; }

NormType parse_norm_type(const std::string& s) {
  if (s == "layer_norm") return NormType::kLayerNorm;
  if (s == "rms_norm") return NormType::kRmsNorm;
  throw std::invalid_argument("unknown norm type '" + s + "' (expected layer_norm or rms_norm)");
}

namespace {

// sum_j (x_j - shift) (squared when `square`): a plain loop for double; for
// float 16-lane partial sums (a scalar sum cannot be vectorised without
// reassociating it), in a fixed order, so still independent of threads and
// of the other rows.
template <typename T>
T row_sum(const T* x, std::int64_t d, T shift, bool square = false) {
  T s = 0;
  for (std::int64_t j = 0; j < d; ++j) s += square ? (x[j] - shift) * (x[j] - shift) : x[j] - shift;
  return s;
}

float row_sum(const float* x, std::int64_t d, float shift, bool square = false) {
  const std::int64_t full = d / 16 * 16;
  const simd::V16 c = simd::splat(shift);
  simd::V16 acc{};
  for (std::int64_t j = 0; j < full; j += 16) {
    const simd::V16 v = simd::load(x + j) - c;
    acc += square ? v * v : v;
  }
  float s = simd::sum(acc);
  for (std::int64_t j = full; j < d; ++j) s += square ? (x[j] - shift) * (x[j] - shift) : x[j] - shift;
  return s;
}

}  // namespace

template <typename T>
LayerNorm<T>::LayerNorm(std::int64_t dim, NormType type, double eps)
    : dim_(dim), type_(type), eps_(static_cast<T>(eps)) {}

template <typename T>
void LayerNorm<T>::forward(const NormParams<T>& p, TensorView<const T> x, TensorView<T> y) {
  MOE_CHECK(x.shape().back() == dim_, "layer norm input " + x.shape().str());
  check_shape(y.shape(), x.shape(), "layer norm output");
  check_shape(p.scale.shape(), Shape{dim_}, "layer norm scale");
  const bool centred = type_ == NormType::kLayerNorm;
  MOE_CHECK(!centred || p.bias.numel() == dim_, "layer norm bias " + p.bias.shape().str());
  const std::int64_t rows = x.shape().rows(), d = dim_;
  cache_.xhat.resize(x.shape());
  cache_.rstd.resize(Shape{rows});
  const T* scale = p.scale.data();
  const T* bias = centred ? p.bias.data() : nullptr;
#pragma omp parallel for if (rows * d > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x.data() + r * d;
    T* hr = cache_.xhat.data() + r * d;
    T* yr = y.data() + r * d;
    const T mean = centred ? row_sum(xr, d, T(0)) / static_cast<T>(d) : T(0);
    const T var = row_sum(xr, d, mean, true);
    const T rstd = T(1) / std::sqrt(var / static_cast<T>(d) + eps_);
    cache_.rstd[r] = rstd;
    for (std::int64_t j = 0; j < d; ++j) {
      hr[j] = (xr[j] - mean) * rstd;
      yr[j] = hr[j] * scale[j] + (bias ? bias[j] : T(0));
    }
  }
}

template <typename T>
void LayerNorm<T>::backward(const NormParams<T>& p, const NormParams<T>& g, TensorView<const T> dy,
                            TensorView<T> dx, bool accumulate_dx) {
  check_shape(dy.shape(), cache_.xhat.shape(), "layer norm dy");
  check_shape(dx.shape(), cache_.xhat.shape(), "layer norm dx");
  const bool centred = type_ == NormType::kLayerNorm;
  const std::int64_t rows = dy.shape().rows(), d = dim_;
  const T* scale = p.scale.data();
  const T inv_d = T(1) / static_cast<T>(d);
  // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * scale;
  // the RMS variant has no mean(dxhat) term (no centring).
#pragma omp parallel for if (rows * d > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* dyr = dy.data() + r * d;
    const T* hr = cache_.xhat.data() + r * d;
    T* dxr = dx.data() + r * d;
    T sum_g = 0, sum_gh = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      const T gj = dyr[j] * scale[j];
      sum_g += gj;
      sum_gh += gj * hr[j];
    }
    const T mean_g = centred ? sum_g * inv_d : T(0), mean_gh = sum_gh * inv_d;
    const T rstd = cache_.rstd[r];
    for (std::int64_t j = 0; j < d; ++j) {
      const T v = rstd * (dyr[j] * scale[j] - mean_g - hr[j] * mean_gh);
      dxr[j] = accumulate_dx ? dxr[j] + v : v;
    }
  }
  // Parameter gradients in column blocks: threads own disjoint columns, and
  // the summation order is independent of the thread count.
  constexpr std::int64_t kBlock = 32;
  const std::int64_t blocks = (d + kBlock - 1) / kBlock;
  T* gscale = g.scale.data();
  T* gbias = centred ? g.bias.data() : nullptr;
#pragma omp parallel for if (rows * d > (1 << 15))
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t j0 = blk * kBlock, j1 = std::min(d, j0 + kBlock);
    T acc_s[kBlock] = {}, acc_b[kBlock] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* dyr = dy.data() + r * d;
      const T* hr = cache_.xhat.data() + r * d;
      for (std::int64_t j = j0; j < j1; ++j) {
        acc_s[j - j0] += dyr[j] * hr[j];
        acc_b[j - j0] += dyr[j];
      }
    }
    for (std::int64_t j = j0; j < j1; ++j) {
      gscale[j] += acc_s[j - j0];
      if (gbias) gbias[j] += acc_b[j - j0];
    }
  }
}

template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace moe
