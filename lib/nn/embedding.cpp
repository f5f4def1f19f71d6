#include "nn/embedding.h"

#include <algorithm>
#include <cmath>

namespace moe {

template <typename T>
Tensor<T> sinusoid_positions(std::int64_t max_positions, std::int64_t dim) {
  Tensor<T> pe(Shape{max_positions, dim});
  for (std::int64_t i = 0; 2 * i < dim; ++i) {
    const T inv = std::exp(-std::log(T(10000)) * static_cast<T>(2 * i) / static_cast<T>(dim));
    for (std::int64_t p = 0; p < max_positions; ++p) {
      const T angle = static_cast<T>(p) * inv;
      pe[p * dim + 2 * i] = std::sin(angle);
      if (2 * i + 1 < dim) pe[p * dim + 2 * i + 1] = std::cos(angle);
    }
  }
  return pe;
}

template <typename T>
void embed_forward(TensorView<const T> table, const std::int32_t* ids, std::int64_t batch,
                   std::int64_t length, T scale, TensorView<const T> positions,
                   std::int64_t offset, TensorView<T> y) {
  const std::int64_t vocab = table.dim(0), d = table.dim(1);
  MOE_CHECK(positions.dim(1) == d, "positions " + positions.shape().str());
  MOE_CHECK(y.numel() == batch * length * d, "embedding output " + y.shape().str());
  if (offset + length > positions.dim(0))
    throw InputError("sequence of " + std::to_string(offset + length) +
                     " tokens exceeds max_positions " + std::to_string(positions.dim(0)));
  for (std::int64_t n = 0; n < batch * length; ++n)
    if (ids[n] < 0 || ids[n] >= vocab)
      throw InputError("token id " + std::to_string(ids[n]) + " outside the vocabulary of " +
                       std::to_string(vocab));
#pragma omp parallel for if (batch * length * d > (1 << 15))
  for (std::int64_t n = 0; n < batch * length; ++n) {
    const T* e = table.data() + static_cast<std::int64_t>(ids[n]) * d;
    const T* pe = positions.data() + (offset + n % length) * d;
    T* yr = y.data() + n * d;
#pragma omp simd
    for (std::int64_t j = 0; j < d; ++j) yr[j] = e[j] * scale + pe[j];
  }
}

template <typename T>
void embed_backward(TensorView<T> gtable, const std::int32_t* ids, std::int64_t count, T scale,
                    TensorView<const T> dy, std::int32_t skip_id) {
  const std::int64_t d = gtable.dim(1);
  MOE_CHECK(dy.numel() == count * d, "embedding dy " + dy.shape().str());
  // Threads own column blocks: a token repeated in the batch never races, and
  // the summation order does not depend on the thread count.
  constexpr std::int64_t kBlock = 64;
  const std::int64_t blocks = (d + kBlock - 1) / kBlock;
#pragma omp parallel for if (count * d > (1 << 15))
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t j0 = blk * kBlock, j1 = std::min(d, j0 + kBlock);
    for (std::int64_t n = 0; n < count; ++n) {
      if (ids[n] == skip_id) continue;
      T* g = gtable.data() + static_cast<std::int64_t>(ids[n]) * d;
      const T* dr = dy.data() + n * d;
      for (std::int64_t j = j0; j < j1; ++j) g[j] += scale * dr[j];
    }
  }
}

#define MOE_INSTANTIATE_EMBEDDING(T)                                                          \
  template Tensor<T> sinusoid_positions<T>(std::int64_t, std::int64_t);                       \
  template void embed_forward<T>(TensorView<const T>, const std::int32_t*, std::int64_t,      \
                                 std::int64_t, T, TensorView<const T>, std::int64_t,          \
                                 TensorView<T>);                                              \
  template void embed_backward<T>(TensorView<T>, const std::int32_t*, std::int64_t, T,        \
                                  TensorView<const T>, std::int32_t);
MOE_INSTANTIATE_EMBEDDING(float)
MOE_INSTANTIATE_EMBEDDING(double)
#undef MOE_INSTANTIATE_EMBEDDING

}  // namespace moe
