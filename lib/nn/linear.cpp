#include "nn/linear.h"

#include "tensor/gemm.h"
#include "tensor/ops.h"

namespace moe {
namespace {

template <typename T>
void check_linear(const LinearParams<T>& p, const Shape& x, const Shape& y, const char* what) {
  MOE_CHECK(p.w.rank() == 2, std::string(what) + ": weight " + p.w.shape().str());
  MOE_CHECK(x.back() == p.w.dim(0) && y.back() == p.w.dim(1) && x.rows() == y.rows(),
            std::string(what) + ": x " + x.str() + " w " + p.w.shape().str() + " y " + y.str());
  MOE_CHECK(p.b.empty() || p.b.numel() == p.w.dim(1),
            std::string(what) + ": bias " + p.b.shape().str());
}

}  // namespace

template <typename T>
void linear_forward(const LinearParams<T>& p, TensorView<const T> x, TensorView<T> y) {
  check_linear(p, x.shape(), y.shape(), "linear_forward");
  const std::int64_t n = x.shape().rows(), in = p.w.dim(0), out = p.w.dim(1);
  gemm<T>(Trans::kNo, Trans::kNo, n, out, in, T(1), x.data(), in, p.w.data(), out, T(0),
          y.data(), out);
  if (!p.b.empty()) add_row_bias<T>(y, p.b);
}

template <typename T>
void linear_backward(const LinearParams<T>& p, const LinearParams<T>& g, TensorView<const T> x,
                     TensorView<const T> dy, TensorView<T> dx, bool accumulate_dx) {
  check_linear(p, x.shape(), dy.shape(), "linear_backward");
  check_shape(g.w.shape(), p.w.shape(), "linear_backward grad w");
  const std::int64_t n = x.shape().rows(), in = p.w.dim(0), out = p.w.dim(1);
  gemm<T>(Trans::kYes, Trans::kNo, in, out, n, T(1), x.data(), in, dy.data(), out, T(1),
          g.w.data(), out);
  if (!g.b.empty()) accumulate_column_sums<T>(dy, g.b);
  if (dx.empty()) return;
  check_shape(dx.shape(), x.shape(), "linear_backward dx");
  gemm<T>(Trans::kNo, Trans::kYes, n, in, out, T(1), dy.data(), out, p.w.data(), out,
          accumulate_dx ? T(1) : T(0), dx.data(), in);
}

template void linear_forward<float>(const LinearParams<float>&, TensorView<const float>,
                                    TensorView<float>);
template void linear_forward<double>(const LinearParams<double>&, TensorView<const double>,
                                     TensorView<double>);
template void linear_backward<float>(const LinearParams<float>&, const LinearParams<float>&,
                                     TensorView<const float>, TensorView<const float>,
                                     TensorView<float>, bool);
template void linear_backward<double>(const LinearParams<double>&, const LinearParams<double>&,
                                      TensorView<const double>, TensorView<const double>,
                                      TensorView<double>, bool);

}  // namespace moe
