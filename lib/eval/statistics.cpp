#include "eval/statistics.h"

#include <cmath>
#include <numeric>

namespace moe::eval {

void sum_rows(const SegmentStatsTable& table, std::span<const std::size_t> segments,
              std::vector<double>& sums) {
  sums.assign(table.width, 0.0);
  for (std::size_t s : segments) {
    const double* row = table.values.data() + s * table.width;
    for (std::size_t k = 0; k < table.width; ++k) sums[k] += row[k];
  }
}

double MetricStatistics::score_of(std::span<const std::size_t> segments) const {
  std::vector<double> sums;
  sum_rows(table, segments, sums);
  return score(sums);
}

std::vector<double> MetricStatistics::corpus_sums() const {
  std::vector<std::size_t> all(table.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  std::vector<double> sums;
  sum_rows(table, all, sums);
  return sums;
}

double MetricStatistics::corpus_score() const { return score(corpus_sums()); }

BleuStats bleu_stats_from_sums(std::span<const double> sums) {
  BleuStats stats;
  stats.hyp_len = std::llround(sums[0]);
  stats.ref_len = std::llround(sums[1]);
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    stats.correct[n] = std::llround(sums[2 + n]);
    stats.total[n] = std::llround(sums[2 + kBleuMaxOrder + n]);
  }
  return stats;
}

MetricStatistics bleu_statistics(const std::vector<BleuStats>& rows, const BleuOptions& options) {
  MetricStatistics m;
  m.name = "BLEU";
  m.table.width = 2 + 2 * kBleuMaxOrder;
  m.table.values.reserve(rows.size() * m.table.width);
  for (const BleuStats& s : rows) {
    m.table.values.push_back(static_cast<double>(s.hyp_len));
    m.table.values.push_back(static_cast<double>(s.ref_len));
    for (auto c : s.correct) m.table.values.push_back(static_cast<double>(c));
    for (auto t : s.total) m.table.values.push_back(static_cast<double>(t));
  }
  m.score = [options](std::span<const double> sums) {
    return bleu_from_stats(bleu_stats_from_sums(sums), options).score;
  };
  return m;
}

MetricStatistics chrf_statistics(const std::vector<ChrfStats>& rows, const ChrfOptions& options) {
  MetricStatistics m;
  m.name = chrf_name(options);
  m.table.width = 3 * static_cast<std::size_t>(options.char_order + options.word_order);
  m.table.values.reserve(rows.size() * m.table.width);
  for (const ChrfStats& s : rows) {
    for (auto v : s) m.table.values.push_back(static_cast<double>(v));
  }
  m.score = [options](std::span<const double> sums) {
    ChrfStats ints(sums.size());
    for (std::size_t i = 0; i < sums.size(); ++i) ints[i] = std::llround(sums[i]);
    return chrf_from_stats(ints, options);
  };
  return m;
}

MetricStatistics ter_statistics(const std::vector<TerStats>& rows) {
  MetricStatistics m;
  m.name = "TER";
  m.table.width = 2;
  m.table.values.reserve(rows.size() * 2);
  for (const TerStats& s : rows) {
    m.table.values.push_back(s.edits);
    m.table.values.push_back(s.ref_len);
  }
  m.score = [](std::span<const double> sums) { return ter_from_stats({sums[0], sums[1]}); };
  return m;
}

}  // namespace moe::eval
