// NumpyGenerator against values printed by NumPy 1.24.2 (Debian 12's python3-numpy):
//   np.random.default_rng(12345).bit_generator.random_raw(3)
//   np.random.default_rng(12345).choice(7, size=(2, 5), replace=True)
//   np.random.default_rng(12345).integers(2, size=(2, 5), dtype=bool)
// and checksums of longer NumPy draws.
#include "eval/numpy_random.h"

#include <gtest/gtest.h>

namespace moe::eval {
namespace {

TEST(NumpyGenerator, RawOutputsOfDefaultRng12345) {
  NumpyGenerator g(12345);
  EXPECT_EQ(g.next_u64(), 0x3a32b18db2ffc19dULL);
  EXPECT_EQ(g.next_u64(), 0x51171315c9e4c4deULL);
  EXPECT_EQ(g.next_u64(), 0xcc2024823444efd9ULL);
}

TEST(NumpyGenerator, ChoiceWithReplacement) {
  NumpyGenerator g(12345);
  std::vector<std::uint64_t> idx;
  g.integers(7, 10, idx);
  EXPECT_EQ(idx, (std::vector<std::uint64_t>{4, 1, 5, 2, 1, 5, 4, 4, 6, 2}));
}

TEST(NumpyGenerator, BooleanCoins) {
  NumpyGenerator g(12345);
  std::vector<bool> coins;
  g.booleans(10, coins);
  EXPECT_EQ(coins, (std::vector<bool>{1, 0, 1, 1, 1, 0, 0, 1, 1, 0}));
}

// Σ value * (index + 1) mod 2^64 over the draws, as computed from NumPy's arrays.
std::uint64_t checksum(const std::vector<std::uint64_t>& values) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += values[i] * (i + 1);
  return sum;
}

TEST(NumpyGenerator, LargeRangesSeedsAndRejectionPaths) {
  std::vector<std::uint64_t> v;
  NumpyGenerator(1099511627783ULL).integers(3000000000ULL, 1000, v);  // seed 2**40 + 7
  EXPECT_EQ(checksum(v), 753366646499080ULL);
  v.clear();
  NumpyGenerator(99).integers(8589934597ULL, 1000, v);  // 2**33 + 5: the 64-bit path
  EXPECT_EQ(checksum(v), 2237188122829605ULL);
  v.clear();
  NumpyGenerator(0).integers(1234, 7 * 1234, v);  // choice(1234, size=(7, 1234))
  EXPECT_EQ(checksum(v), 22812007479ULL);
  std::vector<bool> coins;
  NumpyGenerator(12345).booleans(300, coins);
  std::vector<std::uint64_t> as_ints(coins.begin(), coins.end());
  EXPECT_EQ(checksum(as_ints), 20901ULL);
}

TEST(NumpyGenerator, HalfUsedDrawsCarryOverBetweenCalls) {
  // g = default_rng(5); g.integers(0, 10, 3); g.integers(2, 5, dtype=bool); g.integers(0, 10, 3)
  NumpyGenerator g(5);
  std::vector<std::uint64_t> a, c;
  std::vector<bool> b;
  g.integers(10, 3, a);
  g.booleans(5, b);
  g.integers(10, 3, c);
  EXPECT_EQ(a, (std::vector<std::uint64_t>{6, 8, 0}));
  EXPECT_EQ(b, (std::vector<bool>{1, 0, 1, 0, 0}));
  EXPECT_EQ(c, (std::vector<std::uint64_t>{4, 5, 6}));
}

TEST(NumpyPairwiseSum, MatchesPlainSumOnExactValuesAndSplitsLargeArrays) {
  std::vector<double> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  EXPECT_DOUBLE_EQ(numpy_pairwise_sum(v.data(), v.size()), 999.0 * 1000.0 / 2.0);
  EXPECT_DOUBLE_EQ(numpy_pairwise_sum(v.data(), 5), 10.0);
}

}  // namespace
}  // namespace moe::eval
