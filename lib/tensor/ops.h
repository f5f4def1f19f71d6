#pragma once
// Elementwise and row-wise kernels shared by the layers. Every function checks
// the shapes it is given (InternalError on mismatch: a bug in the caller) and
// is parallelised with OpenMP over rows or elements. Nothing here allocates.
// Shapes: [R,D] means any tensor viewed as R rows of its last dimension D.
#include <cstdint>

#include "tensor/tensor.h"

namespace moe {

// y += x (same element count).
template <typename T>
void add_inplace(TensorView<T> y, TensorView<const T> x);

// y = a + b (same element count; y may alias a or b).
template <typename T>
void add(TensorView<const T> a, TensorView<const T> b, TensorView<T> y);

// y *= s.
template <typename T>
void scale_inplace(TensorView<T> y, T s);

// y[r,:] += bias for every row r. y: [R,D], bias: [D].
template <typename T>
void add_row_bias(TensorView<T> y, TensorView<const T> bias);

// db += sum over rows of dy. dy: [R,D], db: [D]. (The gradient of add_row_bias.)
template <typename T>
void accumulate_column_sums(TensorView<const T> dy, TensorView<T> db);

// y = max(y, 0).
template <typename T>
void relu_inplace(TensorView<T> y);

// dy *= [y > 0], y being ReLU's output (same element count).
template <typename T>
void relu_backward_inplace(TensorView<T> dy, TensorView<const T> y);

// Numerically stable softmax of each row of x: [R,D], in place. Entries equal
// to -infinity get probability 0; a row that is entirely -infinity (every key
// masked) becomes all zeros rather than NaN.
template <typename T>
void softmax_rows_inplace(TensorView<T> x);

// The same for one row of n values (the serial kernel inside per-head loops).
template <typename T>
void softmax_inplace(T* row, std::int64_t n);

// Given p = softmax(s) row-wise and dp = dL/dp, writes dL/ds into dp in place:
// ds = p * (dp - sum(dp * p)). p, dp: [R,D].
template <typename T>
void softmax_rows_backward_inplace(TensorView<T> dp, TensorView<const T> p);

// Log-softmax of each row of x: [R,D] in place, x - log(sum(exp(x))) with
// the max shifted out. The float version is vectorised (simd::exp, relative
// error < 2e-7): the decoder's output layer runs it over R x V logits a step.
template <typename T>
void log_softmax_rows_inplace(TensorView<T> x);

// log(sum(exp(row))) of one row of n values (max-shifted).
template <typename T>
T log_sum_exp(const T* row, std::int64_t n);

}  // namespace moe
