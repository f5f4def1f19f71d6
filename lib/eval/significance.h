#pragma once
// Bootstrap confidence intervals and paired significance tests over segment
// statistics (METRICS.md §6), with sacreBLEU's procedures, resample counts,
// percentiles and p-value formulas, and NumPy's default_rng(seed) draws
// (eval/numpy_random.h): the same resamples and coin flips as sacreBLEU.
// Resampled statistics are summed in double (sacreBLEU: float32), so a score
// can differ from sacreBLEU's in its last bits.
#include <cstdint>
#include <optional>
#include <string>

#include "eval/statistics.h"

namespace moe::eval {

inline constexpr std::uint64_t kDefaultSignificanceSeed = 12345;
// sacreBLEU's PairedTest defaults, also used for a count <= 0.
inline constexpr int kDefaultPairedBootstrapResamples = 1000;
inline constexpr int kDefaultApproximateRandomizationTrials = 10000;

// The SACREBLEU_SEED environment variable as sacreBLEU reads it.
struct SeedSetting {
  std::optional<std::uint64_t> seed;  // unset: "none", a seed from the OS
  std::string bootstrap_text;  // -ci signature: the variable as written, lowercased
  std::string paired_text;     // paired-test signature: str(int(value)) or "none"
};

// `value` is the variable's text, or null when it is unset (seed 12345). "none"
// in any case means an unseeded run; anything else goes through Python's int()
// (surrounding whitespace, a sign, '_' between digits) and must be >= 0, as
// NumPy's default_rng requires; this toolkit also stops at 2^64 - 1. Throws
// InputError naming SACREBLEU_SEED.
SeedSetting parse_seed_setting(const char* value);

struct ConfidenceInterval {
  double mean = 0.0;        // mean of the resampled scores
  double half_width = 0.0;  // (s[hi] - s[lo]) / 2 of the sorted resampled scores (95%)
};

// Single-system bootstrap: `resamples` draws of N segments with replacement.
// `seed` unset draws a seed from the OS (sacreBLEU's SACREBLEU_SEED=none).
ConfidenceInterval bootstrap_confidence(const MetricStatistics& metric, int resamples,
                                        std::optional<std::uint64_t> seed);

struct PairedComparison {
  double score = 0.0;    // the system's corpus score
  double p_value = 0.0;
  std::optional<ConfidenceInterval> confidence;  // paired bootstrap only
};

// Paired bootstrap resampling: baseline and system share every resample.
// Both tables must have the same number of rows and the same scoring function.
PairedComparison paired_bootstrap(const MetricStatistics& baseline, const MetricStatistics& system,
                                  int resamples, std::optional<std::uint64_t> seed);

// Paired approximate randomization: each trial swaps every segment's rows
// between the two systems with probability 1/2; p counts |A - B| > delta strictly.
PairedComparison paired_approximate_randomization(const MetricStatistics& baseline,
                                                  const MetricStatistics& system, int trials,
                                                  std::optional<std::uint64_t> seed);

}  // namespace moe::eval
