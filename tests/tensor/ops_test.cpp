#include "tensor/ops.h"

#include "tensor/simd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "util/rng.h"

namespace moe {
namespace {

TEST(Ops, RowBiasAndItsGradient) {
  Tensor<double> y(Shape{3, 2}, 1.0), bias(Shape{2}), db(Shape{2}, 10.0);
  bias[0] = 0.5;
  bias[1] = -2;
  add_row_bias<double>(y.view(), bias.view());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(y[r * 2], 1.5);
    EXPECT_EQ(y[r * 2 + 1], -1.0);
  }
  accumulate_column_sums<double>(y.view(), db.view());
  EXPECT_EQ(db[0], 10 + 4.5);
  EXPECT_EQ(db[1], 10 - 3.0);
  EXPECT_THROW(add_row_bias<double>(y.view(), Tensor<double>(Shape{3}).view()), InternalError);
}

TEST(Ops, SoftmaxRowsHandlesMaskedEntriesAndFullyMaskedRows) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor<double> x(Shape{2, 3});
  x[0] = 1;
  x[1] = -inf;
  x[2] = 1;
  x[3] = x[4] = x[5] = -inf;
  softmax_rows_inplace<double>(x.view());
  EXPECT_DOUBLE_EQ(x[0], 0.5);
  EXPECT_EQ(x[1], 0.0);
  EXPECT_DOUBLE_EQ(x[2], 0.5);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(x[i], 0.0);
}

TEST(Ops, SoftmaxBackwardMatchesFiniteDifferences) {
  const double z0[3] = {0.2, -0.7, 1.1}, w[3] = {0.3, -1.0, 2.0};
  auto loss = [&](const double* z) {
    Tensor<double> p(Shape{1, 3});
    for (int i = 0; i < 3; ++i) p[i] = z[i];
    softmax_rows_inplace<double>(p.view());
    return p[0] * w[0] + p[1] * w[1] + p[2] * w[2];
  };
  Tensor<double> p(Shape{1, 3}), dp(Shape{1, 3});
  for (int i = 0; i < 3; ++i) {
    p[i] = z0[i];
    dp[i] = w[i];
  }
  softmax_rows_inplace<double>(p.view());
  softmax_rows_backward_inplace<double>(dp.view(), p.view());
  for (int i = 0; i < 3; ++i) {
    double up[3] = {z0[0], z0[1], z0[2]}, dn[3] = {z0[0], z0[1], z0[2]};
    up[i] += 1e-6;
    dn[i] -= 1e-6;
    EXPECT_NEAR(dp[i], (loss(up) - loss(dn)) / 2e-6, 1e-8);
  }
}

TEST(Ops, ReluAndItsGradient) {
  Tensor<float> y(Shape{4}), dy(Shape{4}, 1.0f);
  y[0] = -1;
  y[1] = 2;
  y[2] = 0;
  y[3] = 3;
  relu_inplace<float>(y.view());
  relu_backward_inplace<float>(dy.view(), y.view());
  const float want_y[4] = {0, 2, 0, 3}, want_dy[4] = {0, 1, 0, 1};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(y[i], want_y[i]);
    EXPECT_EQ(dy[i], want_dy[i]);
  }
}

TEST(Ops, LogSumExpIsStableForLargeValues) {
  const double row[2] = {1000.0, 1000.0};
  EXPECT_NEAR(log_sum_exp(row, 2), 1000.0 + std::log(2.0), 1e-12);
}

// The vectorised exp of the float kernels against std::exp in double over
// the whole range they see (x - max <= 0, and a little above), -inf -> 0.
TEST(Ops, SimdExpIsAccurateAndZeroBelowTheRange) {
  for (double x0 = -87.0; x0 < 10.0; x0 += 0.37) {
    simd::V16 x;
    for (int l = 0; l < 16; ++l) x[l] = static_cast<float>(x0 + 0.0231 * l);
    const simd::V16 y = simd::exp(x);
    for (int l = 0; l < 16; ++l) {
      const double want = std::exp(static_cast<double>(x[l]));
      ASSERT_NEAR(y[l], want, 3e-7 * want) << x[l];
    }
  }
  simd::V16 low = simd::splat(-std::numeric_limits<float>::infinity());
  low[1] = -100.0f;
  const simd::V16 y = simd::exp(low);
  for (int l = 0; l < 16; ++l) EXPECT_EQ(y[l], 0.0f);
}

// The float log-softmax (vectorised, with partial last chunks) against the
// plain double computation, for widths around the 16-lane chunks and a
// vocabulary-sized row, logits of large magnitude and -inf entries.
TEST(Ops, LogSoftmaxRowsMatchesDoubleReference) {
  Rng rng(7);
  for (std::int64_t d : {1, 5, 16, 17, 33, 8000}) {
    const std::int64_t rows = 3;
    Tensor<float> x(Shape{rows, d});
    for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(40.0 * (rng.uniform() - 0.5));
    if (d > 2) x[1] = -std::numeric_limits<float>::infinity();  // a banned token
    x[d] = 1e4f;  // row 1 dominated by one logit
    std::vector<double> want(x.numel());
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<double> row(x.data() + r * d, x.data() + (r + 1) * d);
      const double lse = log_sum_exp(row.data(), d);
      for (std::int64_t j = 0; j < d; ++j) want[r * d + j] = row[j] - lse;
    }
    log_softmax_rows_inplace<float>(x.view());
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      if (std::isinf(want[i])) {
        EXPECT_EQ(x[i], -std::numeric_limits<float>::infinity()) << d << " " << i;
      } else {
        ASSERT_NEAR(x[i], want[i], 2e-6 * std::max(1.0, std::abs(want[i]))) << d << " " << i;
      }
    }
  }
}

}  // namespace
}  // namespace moe
