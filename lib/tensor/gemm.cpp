#include "tensor/gemm.h"

#include "tensor/row_gemm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <type_traits>

namespace moe {
namespace {

template <typename T>
using Strided = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                           0, Eigen::OuterStride<>>;
template <typename T>
using StridedOut = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                              Eigen::OuterStride<>>;

// Few-row float products (decoding steps and encoders, MoE experts at decode time) go to
// row_gemm, which skips Eigen's packing of A and B (tensor/row_gemm.h).
// Returns false when the product is not one of them. Only whole products are
// offered (never a row panel of a larger one), so which kernel computes an
// element does not depend on the thread count.
template <typename T>
bool try_row_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                  const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                  std::int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (ta != Trans::kNo || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || n < 64 || k < 64 ||
        !row_gemm_suits(m, n, k))
      return false;
    (tb == Trans::kNo ? row_gemm : row_gemm_nt)(m, n, k, a, lda, b, ldb, beta == 1.0f, c, ldc);
    return true;
  } else {
    return false;
  }
}

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

// Products below this many multiply-adds run on one thread.
constexpr double kParallelWork = 1 << 21;
// Row panels start at multiples of this (a whole number of SIMD packets).
constexpr std::int64_t kPanelQuantum = 16;

// Eigen's own multi-threaded GEMM picks its depth blocking from the thread
// count, so results would change in the last bits with --threads, and its
// fine-grained synchronisation suffers on a loaded machine. Instead Eigen
// always runs single-threaded, and a large product is split into panels of
// rows of C, one per thread. Every element of C is then summed in the same
// order for any thread count (tests/tensor/gemm_test.cpp checks it; splitting
// columns would not be: Eigen's column kernels differ by panel width), and
// threads never wait on each other.
void ensure_eigen_single_threaded() {
  static const bool done = [] {
    Eigen::setNbThreads(1);
    return true;
  }();
  (void)done;
}

std::atomic<bool> g_gemm_timing{false};
std::atomic<std::int64_t> g_gemm_nanoseconds{0};

// Adds the wall time of one gemm / gemm_batched call to the accumulator
// while timing is on (see gemm.h for the rule inside OpenMP regions).
class GemmTimer {
 public:
  GemmTimer() : on_(g_gemm_timing.load(std::memory_order_relaxed)) {
    if (on_) start_ = std::chrono::steady_clock::now();
  }
  ~GemmTimer() {
    if (!on_) return;
    std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start_).count();
    if (omp_in_parallel()) ns /= std::max(1, omp_get_num_threads());
    g_gemm_nanoseconds.fetch_add(ns, std::memory_order_relaxed);
  }
  GemmTimer(const GemmTimer&) = delete;
  GemmTimer& operator=(const GemmTimer&) = delete;

 private:
  bool on_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

template <typename T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const GemmTimer timer;
  if (try_row_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;  // threads its columns
  ensure_eigen_single_threaded();
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Every panel has at least kPanelQuantum rows: Eigen computes a 1-row (or
  // tiny) product with a different kernel, which would change the bits.
  std::int64_t panels = std::min<std::int64_t>(threads, m / kPanelQuantum);
  if (static_cast<double>(m) * n * k < kParallelWork) panels = 1;
  if (panels <= 1) {
    gemm_one(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Panel p covers rows [start(p), start(p+1)); inner edges are multiples of
  // kPanelQuantum, so every panel but the last is too, and the last is the largest.
  auto start = [&](std::int64_t p) {
    return p == panels ? m : p * m / panels / kPanelQuantum * kPanelQuantum;
  };
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(panels))
  for (std::int64_t p = 0; p < panels; ++p) {
    const std::int64_t lo = start(p), hi = start(p + 1);
    const T* rows = ta == Trans::kNo ? a + lo * lda : a + lo;  // rows lo..hi of op(A)
    gemm_one(ta, tb, hi - lo, n, k, alpha, rows, lda, b, ldb, beta, c + lo * ldc, ldc);
  }
}

template <typename T>
void gemm_batched(Trans ta, Trans tb, std::int64_t batch, std::int64_t m, std::int64_t n,
                  std::int64_t k, T alpha, const T* a, std::int64_t lda, std::int64_t stride_a,
                  const T* b, std::int64_t ldb, std::int64_t stride_b, T beta, T* c,
                  std::int64_t ldc, std::int64_t stride_c) {
  const GemmTimer timer;
  ensure_eigen_single_threaded();
  // Tiny batches (decoding steps, tests) run serially: an OpenMP fork/join
  // costs more than they do, and much more on a loaded machine.
  const bool parallel = batch > 1 && batch * m * n * k > (std::int64_t(1) << 18);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (std::int64_t i = 0; i < batch; ++i) {
    if (!try_row_gemm(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                      c + i * stride_c, ldc))
      gemm_one(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
               c + i * stride_c, ldc);
  }
}

void set_num_threads(int n) { omp_set_num_threads(n); }
int num_threads() { return omp_get_max_threads(); }

void set_gemm_timing(bool on) { g_gemm_timing.store(on, std::memory_order_relaxed); }
bool gemm_timing() { return g_gemm_timing.load(std::memory_order_relaxed); }
double gemm_seconds() { return 1e-9 * static_cast<double>(g_gemm_nanoseconds.load(std::memory_order_relaxed)); }

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
