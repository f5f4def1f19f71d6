#include "nn/dropout.h"

namespace moe {

template <typename T>
Dropout<T>::Dropout(double p) : p_(p) {
  MOE_CHECK(p >= 0.0 && p < 1.0, "dropout rate " + std::to_string(p) + " not in [0, 1)");
}

template <typename T>
void Dropout<T>::forward_inplace(TensorView<T> x, bool training, Rng& rng) {
  active_ = training && p_ > 0.0;
  if (!active_) return;
  const std::int64_t n = x.numel();
  keep_.resize(Shape{n});
  const std::uint64_t base = rng.next_u64();
  // Compare 24-bit uniforms against an integer threshold: exact and fast.
  const std::uint64_t threshold = static_cast<std::uint64_t>(p_ * 16777216.0);
  const T scale = static_cast<T>(1.0 / (1.0 - p_));
  std::uint8_t* keep = keep_.data();
  T* xd = x.data();
#pragma omp parallel for simd if (n > (1 << 15))
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t k = (mix64(base + static_cast<std::uint64_t>(i)) >> 40) >= threshold;
    keep[i] = k;
    xd[i] = k ? xd[i] * scale : T(0);
  }
}

template <typename T>
void Dropout<T>::backward_inplace(TensorView<T> dy) const {
  if (!active_) return;
  const std::int64_t n = dy.numel();
  MOE_CHECK(n == keep_.numel(), "dropout backward: " + dy.shape().str() + " vs mask of " +
                                    std::to_string(keep_.numel()));
  const T scale = static_cast<T>(1.0 / (1.0 - p_));
  const std::uint8_t* keep = keep_.data();
  T* d = dy.data();
#pragma omp parallel for simd if (n > (1 << 15))
  for (std::int64_t i = 0; i < n; ++i) d[i] = keep[i] ? d[i] * scale : T(0);
}

template class Dropout<float>;
template class Dropout<double>;

}  // namespace moe
