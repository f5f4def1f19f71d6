// Bootstrap CI and paired tests on metrics whose resampled scores are known.
#include "eval/significance.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "util/error.h"

namespace moe::eval {
namespace {

// A toy metric: rows [value, 1], score = 100 * mean(value).
MetricStatistics mean_metric(const std::vector<double>& values) {
  MetricStatistics m;
  m.name = "mean";
  m.table.width = 2;
  for (double v : values) {
    m.table.values.push_back(v);
    m.table.values.push_back(1.0);
  }
  m.score = [](std::span<const double> sums) { return 100.0 * sums[0] / sums[1]; };
  return m;
}

TEST(BootstrapConfidence, ConstantSegmentsGiveZeroWidth) {
  const ConfidenceInterval ci = bootstrap_confidence(mean_metric({0.5, 0.5, 0.5}), 200, 7);
  EXPECT_DOUBLE_EQ(ci.mean, 50.0);
  EXPECT_DOUBLE_EQ(ci.half_width, 0.0);
}

TEST(BootstrapConfidence, IntervalCoversTheMeanAndIsSeeded) {
  std::vector<double> values;
  for (int i = 0; i < 200; ++i) values.push_back(i % 2);
  const MetricStatistics m = mean_metric(values);
  const ConfidenceInterval a = bootstrap_confidence(m, 1000, 12345);
  const ConfidenceInterval b = bootstrap_confidence(m, 1000, 12345);
  EXPECT_DOUBLE_EQ(a.mean, b.mean);
  EXPECT_DOUBLE_EQ(a.half_width, b.half_width);
  // Standard error of a mean of 200 fair coins: 100 * 0.5 / sqrt(200) = 3.54; the 95%
  // half-width is about 1.96 of those (6.9). Allow generous sampling noise.
  EXPECT_NEAR(a.mean, 50.0, 1.0);
  EXPECT_GT(a.half_width, 5.0);
  EXPECT_LT(a.half_width, 9.0);
  EXPECT_THROW(bootstrap_confidence(m, 0, 1), InputError);
}

TEST(SeedSetting, ReadsSacrebleuSeedAsPythonIntAndNumpy) {
  const SeedSetting unset = parse_seed_setting(nullptr);
  EXPECT_EQ(unset.seed, std::optional<std::uint64_t>(12345));
  EXPECT_EQ(unset.bootstrap_text, "12345");
  const SeedSetting none = parse_seed_setting("NoNe");
  EXPECT_FALSE(none.seed.has_value());
  EXPECT_EQ(none.bootstrap_text, "none");
  EXPECT_EQ(none.paired_text, "none");
  // int() takes whitespace, a sign and '_' between digits; -ci's signature shows the
  // variable as written (str(seed).lower()), the paired tests' shows str(int(seed)).
  const SeedSetting spaced = parse_seed_setting(" +4_2\n");
  EXPECT_EQ(spaced.seed, std::optional<std::uint64_t>(42));
  EXPECT_EQ(spaced.bootstrap_text, " +4_2\n");
  EXPECT_EQ(spaced.paired_text, "42");
  EXPECT_EQ(parse_seed_setting("-0").seed, std::optional<std::uint64_t>(0));
  EXPECT_EQ(parse_seed_setting("18446744073709551615").seed,
            std::optional<std::uint64_t>(18446744073709551615ull));
  // default_rng rejects negative seeds; strtoull used to wrap "-1" to 2^64 - 1.
  for (const char* bad : {"-1", "", "  ", "abc", "1__2", "_1", "1_", "12a", "18446744073709551616",
                          "-18446744073709551617"}) {
    try {
      parse_seed_setting(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("SACREBLEU_SEED"), std::string::npos) << e.what();
    }
  }
}

TEST(PairedTests, ClearlyBetterSystemGetsTheSmallestPValue) {
  // Baseline 0 everywhere, system 1 everywhere: delta = 100. No resample or shuffle of
  // 100 segments reaches it, so p = 1 / (n + 1).
  const MetricStatistics base = mean_metric(std::vector<double>(100, 0.0));
  const MetricStatistics sys = mean_metric(std::vector<double>(100, 1.0));
  const PairedComparison bs = paired_bootstrap(base, sys, 1000, 12345);
  EXPECT_DOUBLE_EQ(bs.p_value, 1.0 / 1001.0);
  EXPECT_DOUBLE_EQ(bs.score, 100.0);
  ASSERT_TRUE(bs.confidence.has_value());
  EXPECT_DOUBLE_EQ(bs.confidence->half_width, 0.0);
  const PairedComparison ar = paired_approximate_randomization(base, sys, 2000, 12345);
  EXPECT_DOUBLE_EQ(ar.p_value, 1.0 / 2001.0);
  EXPECT_FALSE(ar.confidence.has_value());
}

TEST(PairedTests, EqualScoresAreNotSignificant) {
  // Alternating 0/1 against 1/0: equal corpus scores (delta = 0); almost every shuffle
  // gives |A - B| > 0, so p is close to 1.
  std::vector<double> a, b;
  for (int i = 0; i < 100; ++i) {
    a.push_back(i % 2);
    b.push_back(1 - i % 2);
  }
  const PairedComparison ar = paired_approximate_randomization(mean_metric(a), mean_metric(b), 1000, 1);
  EXPECT_GT(ar.p_value, 0.8);
}

}  // namespace
}  // namespace moe::eval
