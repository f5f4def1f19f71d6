#pragma once
// Paired significance tests of several systems against a baseline (sacreBLEU
// --paired-bs / --paired-ar) and their output: a box-drawn table in text mode,
// a list of per-system objects in JSON.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/output.h"
#include "eval/significance.h"

namespace moe::eval {

enum class PairedTest { kBootstrap, kApproximateRandomization };

struct PairedSystem {
  std::string name;                       // as printed: "Baseline: base.txt", "sys.txt", "System 1"
  std::vector<PairedComparison> metrics;  // one per metric; p_value unused for the baseline
};

struct PairedReport {
  PairedTest test = PairedTest::kBootstrap;
  int samples = 0;                     // resamples or trials
  std::vector<std::string> metric_names;
  std::vector<Signature> signatures;   // one per metric
  std::vector<PairedSystem> systems;   // [0] is the baseline
};

// Runs `test` for every system against systems[0]. metrics[s][k] is system s's
// statistics for metric k (every system has the same N segments and metrics; the
// pointers are only read during the call). The baseline gets its bootstrap CI
// (paired bootstrap only); the others get p-values and, for bootstrap, CIs.
std::vector<PairedSystem> compare_with_baseline(
    PairedTest test, int samples, const std::vector<std::string>& names,
    const std::vector<std::vector<const MetricStatistics*>>& metrics,
    std::optional<std::uint64_t> seed);

// The table, the explanation of the test, then the signatures. Ends with '\n'.
std::string format_paired_text(const PairedReport& report, const OutputOptions& options);
// [{"system": ..., "<metric>": {"score", "p_value", "mean", "ci"}}, ...] with unrounded floats.
std::string format_paired_json(const PairedReport& report);

}  // namespace moe::eval
