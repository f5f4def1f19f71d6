#include "tensor/row_gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "util/rng.h"

namespace moe {
namespace {

std::vector<float> random_floats(Rng& rng, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.uniform() - 0.5);
  return v;
}

// C (+)= A op(B) in double, the plain triple loop.
void reference(bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
               std::int64_t lda, const float* b, std::int64_t ldb, bool accumulate,
               std::vector<double>& c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = accumulate ? c[i * ldc + j] : 0.0;
      for (std::int64_t p = 0; p < k; ++p)
        s += double(a[i * lda + p]) * double(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = s;
    }
}

// Shapes around every edge: rows not a multiple of the row tile, columns not a
// multiple of the 64-column panel (and narrower than one) nor of the 16 x 16
// transposed blocks, depth over one and several 128-deep panels, strided
// operands; B and B^T; overwrite and accumulate.
TEST(RowGemm, MatchesPlainLoopOnEdgeShapes) {
  Rng rng(3);
  struct Case { std::int64_t m, n, k; };
  for (bool trans_b : {false, true})
  for (const Case s : {Case{1, 16, 1}, Case{3, 17, 5}, Case{5, 64, 128}, Case{7, 100, 129},
                       Case{9, 130, 300}, Case{33, 257, 64}, Case{128, 96, 256}, Case{4, 40, 37}}) {
    for (bool accumulate : {false, true}) {
      const std::int64_t pad = 3, lda = s.k + pad, ldb = (trans_b ? s.k : s.n) + pad, ldc = s.n + pad;
      const auto a = random_floats(rng, s.m * lda), b = random_floats(rng, (trans_b ? s.n : s.k) * ldb);
      auto c = random_floats(rng, s.m * ldc);
      std::vector<double> want(c.begin(), c.end());
      reference(trans_b, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, accumulate, want, ldc);
      (trans_b ? row_gemm_nt : row_gemm)(s.m, s.n, s.k, a.data(), lda, b.data(), ldb, accumulate,
                                         c.data(), ldc);
      for (std::int64_t i = 0; i < s.m; ++i) {
        for (std::int64_t j = 0; j < s.n; ++j)
          ASSERT_NEAR(c[i * ldc + j], want[i * ldc + j], 1e-5 * std::sqrt(double(s.k)) + 1e-6)
              << (trans_b ? "NT " : "NN ") << s.m << "x" << s.n << "x" << s.k << " at " << i << "," << j;
        for (std::int64_t j = s.n; j < ldc; ++j)  // padding columns untouched
          ASSERT_EQ(c[i * ldc + j], float(want[i * ldc + j])) << "pad " << i << "," << j;
      }
    }
  }
}

// A row's bits do not depend on the other rows of the call, nor on the thread
// count: what makes batched decoding equal decoding one sentence at a time.
TEST(RowGemm, RowResultIndependentOfBatchAndThreads) {
  Rng rng(5);
  const std::int64_t m = 37, n = 300, k = 260;
  const auto a = random_floats(rng, m * k), b = random_floats(rng, k * n);
  std::vector<float> all(m * n), one(n);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  row_gemm(m, n, k, a.data(), k, b.data(), n, false, all.data(), n);
  omp_set_num_threads(std::max(2, threads));
  for (std::int64_t i = 0; i < m; ++i) {
    row_gemm(1, n, k, a.data() + i * k, k, b.data(), n, false, one.data(), n);
    ASSERT_EQ(0, std::memcmp(one.data(), all.data() + i * n, n * sizeof(float))) << "row " << i;
  }
  std::vector<float> again(m * n);
  row_gemm(m, n, k, a.data(), k, b.data(), n, false, again.data(), n);
  EXPECT_EQ(0, std::memcmp(again.data(), all.data(), all.size() * sizeof(float)));
  // B^T: the same products from B transposed into [n,k], the same bits.
  std::vector<float> bt(n * k), nt(m * n);
  for (std::int64_t p = 0; p < k; ++p)
    for (std::int64_t j = 0; j < n; ++j) bt[j * k + p] = b[p * n + j];
  row_gemm_nt(m, n, k, a.data(), k, bt.data(), k, false, nt.data(), n);
  EXPECT_EQ(0, std::memcmp(nt.data(), all.data(), all.size() * sizeof(float)));
  omp_set_num_threads(threads);
}

}  // namespace
}  // namespace moe
