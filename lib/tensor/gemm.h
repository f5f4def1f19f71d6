#pragma once
// The one GEMM entry point. Every large matrix product in the model goes
// through here, so a faster backend (MKL, a packed kernel) is one file away.
//
//   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]
//
// A, B, C are row-major with leading dimensions lda, ldb, ldc (elements);
// op(X) = X or X^T as selected by trans_a / trans_b. beta == 0 overwrites C
// (its prior contents may be garbage/NaN). Large products are split into row
// panels computed by single-threaded Eigen on OpenMP threads; the result is
// bit-identical for any thread count. Called inside a parallel region it runs
// on the calling thread only.
#include <cstdint>

namespace moe {

enum class Trans { kNo, kYes };

template <typename T>
void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

// Batched: `batch` independent GEMMs with fixed strides between operands
// (the experts' [E,C,M] x [E,M,H] products). Parallel over the batch.
template <typename T>
void gemm_batched(Trans trans_a, Trans trans_b, std::int64_t batch, std::int64_t m,
                  std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
                  std::int64_t stride_a, const T* b, std::int64_t ldb, std::int64_t stride_b,
                  T beta, T* c, std::int64_t ldc, std::int64_t stride_c);

// Threads used by GEMM and the elementwise kernels (default: OpenMP's).
void set_num_threads(int n);
int num_threads();

// GEMM wall-time accounting, for the time breakdown of a training step
// (moe-train's metrics.jsonl, bench/train_bench.sh). Off by default, and then
// gemm / gemm_batched pay one relaxed atomic load per call. While on, a call
// made from serial code adds its wall time; a call made on one of the n
// threads of an OpenMP region (attention's per-head products) adds its time
// / n: the threads run side by side, so that is its share of the region's
// wall time (an estimate when the region's threads are unevenly loaded).
// gemm never calls gemm, so no time is counted twice. Process-wide and
// thread-safe; a number for one thread of GEMM callers at a time.
void set_gemm_timing(bool on);
bool gemm_timing();
// Seconds accumulated while timing was on since the process started
// (monotonic: callers take differences).
double gemm_seconds();

}  // namespace moe
