#include "tensor/gemm.h"

#include <omp.h>

#include <Eigen/Core>

namespace moe {
namespace {

template <typename T>
using Strided = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                           0, Eigen::OuterStride<>>;
template <typename T>
using StridedOut = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                              Eigen::OuterStride<>>;

template <typename T>
void gemm_one(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
              const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
              std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  StridedOut<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) {
    C.setZero();
  } else if (beta != T(1)) {
    C *= beta;
  }
  if (k == 0) return;
  // Stored shapes: op(A) is m x k, so A is m x k (no trans) or k x m (trans).
  Strided<T> A(a, ta == Trans::kNo ? m : k, ta == Trans::kNo ? k : m, Eigen::OuterStride<>(lda));
  Strided<T> B(b, tb == Trans::kNo ? k : n, tb == Trans::kNo ? n : k, Eigen::OuterStride<>(ldb));
  if (ta == Trans::kNo && tb == Trans::kNo) {
    C.noalias() += alpha * A * B;
  } else if (ta == Trans::kNo) {
    C.noalias() += alpha * A * B.transpose();
  } else if (tb == Trans::kNo) {
    C.noalias() += alpha * A.transpose() * B;
  } else {
    C.noalias() += alpha * A.transpose() * B.transpose();
  }
}

}  // namespace

template <typename T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  gemm_one(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void gemm_batched(Trans ta, Trans tb, std::int64_t batch, std::int64_t m, std::int64_t n,
                  std::int64_t k, T alpha, const T* a, std::int64_t lda, std::int64_t stride_a,
                  const T* b, std::int64_t ldb, std::int64_t stride_b, T beta, T* c,
                  std::int64_t ldc, std::int64_t stride_c) {
  // Small per-item products: parallelise over the batch and keep Eigen
  // single-threaded inside, which beats nested parallelism.
  const int saved = Eigen::nbThreads();
  Eigen::setNbThreads(1);
  // Tiny batches (decoding steps, tests) run serially: an OpenMP fork/join
  // costs more than they do, and much more on a loaded machine.
  const bool parallel = batch > 1 && batch * m * n * k > (std::int64_t(1) << 18);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (std::int64_t i = 0; i < batch; ++i) {
    gemm_one(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
             c + i * stride_c, ldc);
  }
  Eigen::setNbThreads(saved);
}

void set_num_threads(int n) {
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
}
int num_threads() { return Eigen::nbThreads(); }

#define MOE_INSTANTIATE_GEMM(T)                                                                   \
  template void gemm<T>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, T, const T*,      \
                        std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);               \
  template void gemm_batched<T>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t,           \
                                std::int64_t, T, const T*, std::int64_t, std::int64_t, const T*,  \
                                std::int64_t, std::int64_t, T, T*, std::int64_t, std::int64_t);
MOE_INSTANTIATE_GEMM(float)
MOE_INSTANTIATE_GEMM(double)
#undef MOE_INSTANTIATE_GEMM

}  // namespace moe
