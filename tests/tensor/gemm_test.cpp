#include "tensor/gemm.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe {
namespace {

// Naive triple loop on explicit indices: the reference for every layout.
void reference_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
                    const double* b, int ldb, double beta, double* c, int ldc) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int p = 0; p < k; ++p) s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
    }
}

TEST(Gemm, MatchesReferenceForEveryTransposeAndStride) {
  Rng rng(1);
  const int m = 7, n = 5, k = 9, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      std::vector<double> a((ta ? k : m) * lda), b((tb ? n : k) * ldb), c(m * ldc), want;
      for (auto* v : {&a, &b, &c})
        for (double& x : *v) x = rng.uniform() - 0.5;
      want = c;
      reference_gemm(ta, tb, m, n, k, 0.7, a.data(), lda, b.data(), ldb, 0.3, want.data(), ldc);
      gemm<double>(ta ? Trans::kYes : Trans::kNo, tb ? Trans::kYes : Trans::kNo, m, n, k, 0.7,
                   a.data(), lda, b.data(), ldb, 0.3, c.data(), ldc);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) EXPECT_NEAR(c[i * ldc + j], want[i * ldc + j], 1e-12);
    }
}

TEST(Gemm, BetaZeroIgnoresGarbageInOutput) {
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1}, c(4, std::numeric_limits<float>::quiet_NaN());
  gemm<float>(Trans::kNo, Trans::kNo, 2, 2, 2, 1.f, a.data(), 2, b.data(), 2, 0.f, c.data(), 2);
  EXPECT_EQ(c, a);
}

TEST(Gemm, BatchedEqualsLoopOfSingle) {
  Rng rng(2);
  const int batch = 4, m = 3, n = 6, k = 5;
  std::vector<double> a(batch * m * k), b(batch * k * n), c(batch * m * n), want(batch * m * n);
  for (double& x : a) x = rng.uniform();
  for (double& x : b) x = rng.uniform();
  gemm_batched<double>(Trans::kNo, Trans::kNo, batch, m, n, k, 1.0, a.data(), k, m * k, b.data(), n,
                       k * n, 0.0, c.data(), n, m * n);
  for (int i = 0; i < batch; ++i)
    reference_gemm(false, false, m, n, k, 1.0, a.data() + i * m * k, k, b.data() + i * k * n, n, 0.0,
                   want.data() + i * m * n, n);
  for (int i = 0; i < batch * m * n; ++i) EXPECT_NEAR(c[i], want[i], 1e-12);
}

// Row panels on several threads must give the single-thread bits, for every
// transpose combination and uneven shapes (odd m, a last panel of 1 row).
TEST(Gemm, BitIdenticalForAnyThreadCount) {
  const int saved = num_threads();
  const int shapes[][3] = {{257, 96, 320}, {128, 256, 64}, {33, 1000, 100}, {1000, 40, 77}};
  for (const auto& s : shapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const int m = s[0], n = s[1], k = s[2];
        Rng rng(static_cast<std::uint64_t>(m + n + k));
        std::vector<float> a(m * k), b(k * n), want(m * n), got(m * n);
        for (float& x : a) x = rng.uniform() - 0.5f;
        for (float& x : b) x = rng.uniform() - 0.5f;
        const Trans A = ta ? Trans::kYes : Trans::kNo, B = tb ? Trans::kYes : Trans::kNo;
        set_num_threads(1);
        gemm<float>(A, B, m, n, k, 1.f, a.data(), ta ? m : k, b.data(), tb ? k : n, 0.f,
                    want.data(), n);
        for (int threads : {2, 3, 5}) {
          set_num_threads(threads);
          gemm<float>(A, B, m, n, k, 1.f, a.data(), ta ? m : k, b.data(), tb ? k : n, 0.f,
                      got.data(), n);
          EXPECT_EQ(0, std::memcmp(want.data(), got.data(), sizeof(float) * m * n))
              << m << "x" << n << "x" << k << " ta " << ta << " tb " << tb << " threads "
              << threads;
        }
      }
  set_num_threads(saved);
}

TEST(Tensor, ViewsSliceAndReshapeWithoutCopying) {
  Tensor<float> t(Shape{2, 3, 4});
  for (int i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i);
  TensorView<float> second = t.view()(1);
  EXPECT_EQ(second.shape(), (Shape{3, 4}));
  EXPECT_EQ(second[0], 12.f);
  EXPECT_EQ(t.view().reshaped(Shape{6, 4}).matrix()(5, 3), 23.f);
  EXPECT_THROW(t.view().reshaped(Shape{5, 5}), InternalError);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u);
}

}  // namespace
}  // namespace moe
