#pragma once
// Affine projection y = x w + b, the building block of attention and the FFN.
// Stateless: the caller keeps x alive until backward (it is another layer's
// output buffer), so nothing is copied.
#include "tensor/tensor.h"

namespace moe {

// Views into the weight table (not owned).
template <typename T>
struct LinearParams {
  TensorView<T> w;  // [I,O] (input-major, so y = x w without a transpose)
  TensorView<T> b;  // [O]; empty = no bias
};

// x: [N,I] (any rank, last dim I), y: [N,O] (overwritten).
template <typename T>
void linear_forward(const LinearParams<T>& p, TensorView<const T> x, TensorView<T> y);

// Accumulates g.w += x^T dy and g.b += column sums of dy. Writes dx = dy w^T,
// or adds it when accumulate_dx; dx may be empty (input needs no gradient).
// x: [N,I], dy: [N,O], dx: [N,I].
template <typename T>
void linear_backward(const LinearParams<T>& p, const LinearParams<T>& g, TensorView<const T> x,
                     TensorView<const T> dy, TensorView<T> dx, bool accumulate_dx = false);

}  // namespace moe
