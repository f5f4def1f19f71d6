#include "util/rng.h"

#include <gtest/gtest.h>

namespace moe {
namespace {

TEST(Rng, SameSeedAndStreamGiveSameNumbers) {
  Rng a(42, "dropout", 3), b(42, "dropout", 3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Rng, StreamsAndSeedsAreIndependent) {
  Rng a(42, "dropout", 3), b(42, "dropout", 4), c(42, "routing", 3), d(43, "dropout", 3);
  const auto x = a.next_u64();
  EXPECT_NE(x, b.next_u64());
  EXPECT_NE(x, c.next_u64());
  EXPECT_NE(x, d.next_u64());
}

TEST(Rng, UniformStaysInUnitInterval) {
  Rng r(7);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace moe
