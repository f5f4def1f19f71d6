#include "eval/significance.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>

#include "eval/numpy_random.h"
#include "util/error.h"

namespace moe::eval {
namespace {

NumpyGenerator make_generator(std::optional<std::uint64_t> seed) {
  return seed ? NumpyGenerator(*seed) : NumpyGenerator::from_os_entropy();
}

// Rows of choice(N, size=(n, N), replace=True), one resample at a time.
class ResampleDrawer {
 public:
  ResampleDrawer(std::size_t segments, std::optional<std::uint64_t> seed)
      : generator_(make_generator(seed)), segments_(segments) {}
  const std::vector<std::size_t>& next() {
    draws_.clear();
    generator_.integers(segments_, segments_, draws_);
    indices_.assign(draws_.begin(), draws_.end());
    return indices_;
  }

 private:
  NumpyGenerator generator_;
  std::size_t segments_;
  std::vector<std::uint64_t> draws_;
  std::vector<std::size_t> indices_;
};

double numpy_mean(const std::vector<double>& values) {
  return numpy_pairwise_sum(values.data(), values.size()) / static_cast<double>(values.size());
}

ConfidenceInterval interval_of(std::vector<double> scores) {
  MOE_CHECK(!scores.empty(), "bootstrap needs at least one resample");
  ConfidenceInterval ci;
  ci.mean = numpy_mean(scores);
  std::sort(scores.begin(), scores.end());
  const std::size_t lo = scores.size() / 40;
  const std::size_t hi = scores.size() - lo - 1;
  ci.half_width = (scores[hi] - scores[lo]) / 2.0;
  return ci;
}

void check_paired(const MetricStatistics& baseline, const MetricStatistics& system) {
  MOE_CHECK(baseline.table.size() == system.table.size(), "paired systems differ in length");
  MOE_CHECK(baseline.table.width == system.table.width, "paired systems differ in metric");
}

void check_count(int count, const char* what) {
  if (count <= 0) throw InputError(std::string(what) + " must be a positive integer");
}

bool is_int_space(char c) {
  // The ASCII characters Python's int() strips (str.isspace()).
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

}  // namespace

SeedSetting parse_seed_setting(const char* value) {
  SeedSetting setting;
  if (value == nullptr) {
    setting.seed = kDefaultSignificanceSeed;
    setting.bootstrap_text = setting.paired_text = std::to_string(kDefaultSignificanceSeed);
    return setting;
  }
  const std::string text = value;
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  setting.bootstrap_text = lower;
  if (lower == "none") {
    setting.paired_text = "none";
    return setting;
  }
  const auto invalid = [&](const std::string& why) {
    return InputError("SACREBLEU_SEED must be 'none' or an integer >= 0" + why + ", got '" +
                      text + "'");
  };
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_int_space(text[begin])) ++begin;
  while (end > begin && is_int_space(text[end - 1])) --end;
  bool negative = false;
  if (begin < end && (text[begin] == '+' || text[begin] == '-')) negative = text[begin++] == '-';
  std::uint64_t seed = 0;
  bool any_digit = false, overflow = false;
  for (std::size_t i = begin; i < end; ++i) {
    const char c = text[i];
    // int() takes single underscores between digits ("1_000").
    if (c == '_' && i > begin && i + 1 < end && text[i - 1] != '_' && text[i + 1] != '_') continue;
    if (c < '0' || c > '9') throw invalid("");
    any_digit = true;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (seed > (UINT64_MAX - digit) / 10) overflow = true;
    seed = seed * 10 + digit;
  }
  if (!any_digit) throw invalid("");
  if (negative && (seed != 0 || overflow)) {
    throw invalid(" (NumPy's default_rng takes no negative seed)");
  }
  if (overflow) throw invalid(" and <= " + std::to_string(UINT64_MAX));
  setting.seed = seed;
  setting.paired_text = std::to_string(seed);
  return setting;
}

ConfidenceInterval bootstrap_confidence(const MetricStatistics& metric, int resamples,
                                        std::optional<std::uint64_t> seed) {
  check_count(resamples, "the number of bootstrap resamples");
  ResampleDrawer drawer(metric.table.size(), seed);
  std::vector<double> scores;
  scores.reserve(resamples);
  for (int j = 0; j < resamples; ++j) scores.push_back(metric.score_of(drawer.next()));
  return interval_of(std::move(scores));
}

PairedComparison paired_bootstrap(const MetricStatistics& baseline, const MetricStatistics& system,
                                  int resamples, std::optional<std::uint64_t> seed) {
  check_paired(baseline, system);
  check_count(resamples, "the number of paired bootstrap resamples");
  ResampleDrawer drawer(system.table.size(), seed);
  std::vector<double> system_scores, differences;
  system_scores.reserve(resamples);
  differences.reserve(resamples);
  for (int j = 0; j < resamples; ++j) {
    const std::vector<std::size_t>& sample = drawer.next();
    const double base = baseline.score_of(sample);
    const double sys = system.score_of(sample);
    system_scores.push_back(sys);
    differences.push_back(std::abs(sys - base));
  }
  PairedComparison result;
  result.score = system.corpus_score();
  const double delta = std::abs(result.score - baseline.corpus_score());
  const double mean_difference = numpy_mean(differences);
  int extreme = 0;
  for (double d : differences) extreme += (d - mean_difference > delta) ? 1 : 0;
  result.p_value = static_cast<double>(extreme + 1) / static_cast<double>(resamples + 1);
  result.confidence = interval_of(std::move(system_scores));
  return result;
}

PairedComparison paired_approximate_randomization(const MetricStatistics& baseline,
                                                  const MetricStatistics& system, int trials,
                                                  std::optional<std::uint64_t> seed) {
  check_paired(baseline, system);
  check_count(trials, "the number of approximate randomization trials");
  NumpyGenerator generator = make_generator(seed);
  NumpyBooleanFill coins(generator);  // integers(2, size=(trials, N), dtype=bool)
  const std::size_t segments = system.table.size();
  const std::size_t width = system.table.width;
  PairedComparison result;
  result.score = system.corpus_score();
  const double delta = std::abs(result.score - baseline.corpus_score());
  std::vector<double> sums_a(width), sums_b(width);
  int extreme = 0;
  for (int j = 0; j < trials; ++j) {
    std::fill(sums_a.begin(), sums_a.end(), 0.0);
    std::fill(sums_b.begin(), sums_b.end(), 0.0);
    for (std::size_t s = 0; s < segments; ++s) {
      const bool swap = coins.next();
      const double* base_row = baseline.table.values.data() + s * width;
      const double* sys_row = system.table.values.data() + s * width;
      const double* to_a = swap ? sys_row : base_row;
      const double* to_b = swap ? base_row : sys_row;
      for (std::size_t k = 0; k < width; ++k) {
        sums_a[k] += to_a[k];
        sums_b[k] += to_b[k];
      }
    }
    if (std::abs(baseline.score(sums_a) - system.score(sums_b)) > delta) ++extreme;
  }
  result.p_value = static_cast<double>(extreme + 1) / static_cast<double>(trials + 1);
  return result;
}

}  // namespace moe::eval
