#pragma once
// Pre-norm layer normalisation over the last dimension M.
//   kLayerNorm (torch.nn.LayerNorm, the torchref default):
//       y = (x - mean) * rsqrt(var + eps) * scale + bias
//   kRmsNorm (GSHARD.md §2.3, lingvo): no centring, no bias:
//       y = x * rsqrt(mean(x^2) + eps) * scale
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace moe {

enum class NormType { kLayerNorm, kRmsNorm };
std::string to_string(NormType t);
// Parses "layer_norm" or "rms_norm"; throws std::invalid_argument otherwise.
NormType parse_norm_type(const std::string& s);

// Views into the weight table (not owned).
template <typename T>
struct NormParams {
  TensorView<T> scale;  // [M], initialised to 1
  TensorView<T> bias;   // [M], initialised to 0; empty for kRmsNorm
};

template <typename T>
class LayerNorm {
 public:
  // eps: 1e-5 matches torch.nn.LayerNorm, lingvo's RMS norm uses 1e-6.
  LayerNorm(std::int64_t dim, NormType type, double eps);

  // x: [N,M] (any rank, last dim M) -> y: same shape (may not alias x).
  // Caches the normalised input and 1/std per row for backward.
  void forward(const NormParams<T>& p, TensorView<const T> x, TensorView<T> y);
  // dy: [N,M] of the last forward. Accumulates g.scale (and g.bias); writes dx
  // (adds to it when accumulate_dx, the residual-stream case).
  void backward(const NormParams<T>& p, const NormParams<T>& g, TensorView<const T> dy,
                TensorView<T> dx, bool accumulate_dx);

  NormType type() const { return type_; }

 private:
  std::int64_t dim_;
  NormType type_;
  T eps_;
  struct Cache {
    Tensor<T> xhat;  // [N,M] normalised input (before scale/bias)
    Tensor<T> rstd;  // [N] 1 / sqrt(var + eps) (RMS: 1 / sqrt(mean(x^2) + eps))
  } cache_;
};

}  // namespace moe
