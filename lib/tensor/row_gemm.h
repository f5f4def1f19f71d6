#pragma once
// A GEMM for products with few rows: decoding steps (R <= a few hundred
// hypotheses against [M,N] weights), the encoder of a decoding batch, and the
// per-expert products of the MoE layer at decode time (a handful of tokens per
// expert).
//
//   C[m,n] = A[m,k] B[k,n]            (accumulate = false; C's prior contents ignored)
//   C[m,n] = C[m,n] + A[m,k] B[k,n]   (accumulate = true)
//
// and row_gemm_nt the same with B^T for B stored [n,k] (the tied output
// projection h E^T against the [V,M] embedding).
//
// float only; A, B, C row-major with leading dimensions lda, ldb, ldc.
// Only B is copied, one column panel (64 columns x 128 rows of op(B), 32 KiB:
// it stays in L1) at a time, and every row of A runs against the panel while
// it is cached; A is read in place. Eigen's GEMM instead packs both operands
// into blocks sized for large products, which for R ~ 128 rows costs a large
// share of the product itself.
//
// Determinism: every element of C is one chain of fused multiply-adds over
// k in order (starting from 0, or from C when accumulating), whatever m, the
// row's position in A, the thread count or the panel a thread takes. So a
// row's result does not depend on which other rows are in the batch: a
// sentence decodes to the same bits alone or batched.
//
// Column panels are spread over OpenMP threads when the product is large
// enough (never inside a parallel region).
#include <cstdint>

namespace moe {

void row_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc);
void row_gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                 const float* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc);

// Products the gemm() entry point hands to row_gemm(_nt): op(A) = A,
// alpha 1, beta 0 or 1, at most kRowGemmMaxRows rows and at least a vector of
// columns. Up to 1024 rows (a decoding batch's encoder: 32 sentences x ~20
// tokens) A's 128-deep block stays in L2 and the kernel measured 1.35-1.4x
// Eigen's rate at one thread (m = 672 and 1024); larger products (training
// batches) keep Eigen, whose blocking suits them.
constexpr std::int64_t kRowGemmMaxRows = 1024;
inline bool row_gemm_suits(std::int64_t m, std::int64_t n, std::int64_t k) {
  return m > 0 && m <= kRowGemmMaxRows && n >= 16 && k > 0;
}

}  // namespace moe
