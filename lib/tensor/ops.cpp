#include "tensor/ops.h"

#include "tensor/simd.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moe {
namespace {

// Below this many elements the OpenMP fork/join costs more than the loop.
constexpr std::int64_t kParallelElements = 1 << 15;

void check_same_count(std::int64_t a, std::int64_t b, const char* what) {
  MOE_CHECK(a == b, std::string(what) + ": element counts " + std::to_string(a) + " vs " +
                        std::to_string(b));
}

}  // namespace

template <typename T>
void add_inplace(TensorView<T> y, TensorView<const T> x) {
  check_same_count(y.numel(), x.numel(), "add_inplace");
  T* yd = y.data();
  const T* xd = x.data();
  const std::int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) yd[i] += xd[i];
}

template <typename T>
void add(TensorView<const T> a, TensorView<const T> b, TensorView<T> y) {
  check_same_count(a.numel(), b.numel(), "add");
  check_same_count(a.numel(), y.numel(), "add");
  const T* ad = a.data();
  const T* bd = b.data();
  T* yd = y.data();
  const std::int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) yd[i] = ad[i] + bd[i];
}

template <typename T>
void scale_inplace(TensorView<T> y, T s) {
  T* yd = y.data();
  const std::int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) yd[i] *= s;
}

template <typename T>
void add_row_bias(TensorView<T> y, TensorView<const T> bias) {
  const std::int64_t d = bias.numel();
  MOE_CHECK(y.rank() >= 1 && y.shape().back() == d,
            "add_row_bias: " + y.shape().str() + " + bias " + bias.shape().str());
  const std::int64_t rows = y.shape().rows();
  const T* b = bias.data();
#pragma omp parallel for if (rows * d > kParallelElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    T* yr = y.data() + r * d;
#pragma omp simd
    for (std::int64_t j = 0; j < d; ++j) yr[j] += b[j];
  }
}

template <typename T>
void accumulate_column_sums(TensorView<const T> dy, TensorView<T> db) {
  const std::int64_t d = db.numel();
  MOE_CHECK(dy.rank() >= 1 && dy.shape().back() == d,
            "accumulate_column_sums: " + dy.shape().str() + " into " + db.shape().str());
  // Sum in column blocks so threads own disjoint outputs and the order of
  // additions (hence the result) does not depend on the thread count.
  const std::int64_t rows = dy.shape().rows();
  constexpr std::int64_t kBlock = 64;
  const std::int64_t blocks = (d + kBlock - 1) / kBlock;
#pragma omp parallel for if (rows * d > kParallelElements)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t j0 = blk * kBlock, j1 = std::min(d, j0 + kBlock);
    T acc[kBlock] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = dy.data() + r * d;
      for (std::int64_t j = j0; j < j1; ++j) acc[j - j0] += row[j];
    }
    for (std::int64_t j = j0; j < j1; ++j) db.data()[j] += acc[j - j0];
  }
}

template <typename T>
void relu_inplace(TensorView<T> y) {
  T* yd = y.data();
  const std::int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) yd[i] = yd[i] > T(0) ? yd[i] : T(0);
}

template <typename T>
void relu_backward_inplace(TensorView<T> dy, TensorView<const T> y) {
  check_same_count(dy.numel(), y.numel(), "relu_backward");
  T* d = dy.data();
  const T* yd = y.data();
  const std::int64_t n = dy.numel();
#pragma omp parallel for simd if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) d[i] = yd[i] > T(0) ? d[i] : T(0);
}

template <typename T>
T log_sum_exp(const T* row, std::int64_t n) {
  T mx = -std::numeric_limits<T>::infinity();
  for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j]);
  if (mx == -std::numeric_limits<T>::infinity()) return mx;
  T sum = 0;
  for (std::int64_t j = 0; j < n; ++j) sum += std::exp(row[j] - mx);
  return mx + std::log(sum);
}

template <typename T>
void softmax_inplace(T* row, std::int64_t n) {
  T mx = -std::numeric_limits<T>::infinity();
  for (std::int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j]);
  if (mx == -std::numeric_limits<T>::infinity()) {
    std::fill(row, row + n, T(0));
    return;
  }
  T sum = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - mx);
    sum += row[j];
  }
  const T inv = T(1) / sum;
  for (std::int64_t j = 0; j < n; ++j) row[j] *= inv;
}

template <typename T>
void softmax_rows_inplace(TensorView<T> x) {
  const std::int64_t d = x.shape().back();
  const std::int64_t rows = x.shape().rows();
#pragma omp parallel for if (rows * d > kParallelElements)
  for (std::int64_t r = 0; r < rows; ++r) softmax_inplace(x.data() + r * d, d);
}

namespace {

template <typename T>
void log_softmax_row(T* z, std::int64_t n) {
  const T lse = log_sum_exp(z, n);
  for (std::int64_t v = 0; v < n; ++v) z[v] -= lse;
}

// Lanes past n of the last chunk read as -inf (exp 0, no effect on the max).
void log_softmax_row(float* z, std::int64_t n) {
  using simd::V16;
  const std::int64_t full = n / 16 * 16;
  V16 tail = simd::splat(-std::numeric_limits<float>::infinity());
  for (std::int64_t j = full; j < n; ++j) tail[j - full] = z[j];
  V16 vmax = tail;
  for (std::int64_t j = 0; j < full; j += 16) vmax = simd::max(vmax, simd::load(z + j));
  const float mx = simd::max(vmax);
  if (mx == -std::numeric_limits<float>::infinity()) {  // as log_sum_exp: lse = -inf
    for (std::int64_t j = 0; j < n; ++j) z[j] -= mx;
    return;
  }
  const V16 shift = simd::splat(mx);
  V16 acc = simd::exp(tail - shift);
  for (std::int64_t j = 0; j < full; j += 16) acc += simd::exp(simd::load(z + j) - shift);
  const V16 lse = simd::splat(mx + std::log(simd::sum(acc)));
  for (std::int64_t j = 0; j < full; j += 16) simd::store(z + j, simd::load(z + j) - lse);
  for (std::int64_t j = full; j < n; ++j) z[j] -= lse[0];
}

}  // namespace

template <typename T>
void log_softmax_rows_inplace(TensorView<T> x) {
  const std::int64_t d = x.shape().back();
  const std::int64_t rows = x.shape().rows();
#pragma omp parallel for if (rows * d > kParallelElements)
  for (std::int64_t r = 0; r < rows; ++r) log_softmax_row(x.data() + r * d, d);
}

template <typename T>
void softmax_rows_backward_inplace(TensorView<T> dp, TensorView<const T> p) {
  check_shape(dp.shape(), p.shape(), "softmax_rows_backward");
  const std::int64_t d = p.shape().back();
  const std::int64_t rows = p.shape().rows();
#pragma omp parallel for if (rows * d > kParallelElements)
  for (std::int64_t r = 0; r < rows; ++r) {
    T* g = dp.data() + r * d;
    const T* pr = p.data() + r * d;
    T dot = 0;
    for (std::int64_t j = 0; j < d; ++j) dot += g[j] * pr[j];
    for (std::int64_t j = 0; j < d; ++j) g[j] = pr[j] * (g[j] - dot);
  }
}

#define MOE_INSTANTIATE_OPS(T)                                                          \
  template void add_inplace<T>(TensorView<T>, TensorView<const T>);                     \
  template void add<T>(TensorView<const T>, TensorView<const T>, TensorView<T>);        \
  template void scale_inplace<T>(TensorView<T>, T);                                     \
  template void add_row_bias<T>(TensorView<T>, TensorView<const T>);                    \
  template void accumulate_column_sums<T>(TensorView<const T>, TensorView<T>);          \
  template void relu_inplace<T>(TensorView<T>);                                         \
  template void relu_backward_inplace<T>(TensorView<T>, TensorView<const T>);           \
  template void softmax_rows_inplace<T>(TensorView<T>);                                 \
  template void softmax_inplace<T>(T*, std::int64_t);                                   \
  template void softmax_rows_backward_inplace<T>(TensorView<T>, TensorView<const T>);   \
  template void log_softmax_rows_inplace<T>(TensorView<T>);                             \
  template T log_sum_exp<T>(const T*, std::int64_t);
MOE_INSTANTIATE_OPS(float)
MOE_INSTANTIATE_OPS(double)
#undef MOE_INSTANTIATE_OPS

}  // namespace moe
