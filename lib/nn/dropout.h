#pragma once
// Inverted dropout: at training time each element is kept with probability
// 1-p and scaled by 1/(1-p), so evaluation is the identity. The keep mask is
// counter-based (element i's draw is a hash of a per-call seed taken from the
// caller's Rng stream and i), so it is the same for any thread count.
#include <cstdint>

#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe {

template <typename T>
class Dropout {
 public:
  explicit Dropout(double p = 0.0);

  double rate() const { return p_; }
  // True when the last forward dropped anything (training and p > 0).
  bool active() const { return active_; }

  // x *= keep / (1-p) when training and p > 0; otherwise a no-op. Saves the
  // mask for backward. Draws one number from rng when active.
  void forward_inplace(TensorView<T> x, bool training, Rng& rng);
  // dy *= keep / (1-p) with the mask of the last forward (no-op if inactive).
  // dy must have the element count of that forward's x.
  void backward_inplace(TensorView<T> dy) const;

 private:
  double p_;
  bool active_ = false;
  Tensor<std::uint8_t> keep_;  // [numel of the last forward], 1 = kept
};

}  // namespace moe
