#pragma once
// Every metric reduced to the same shape: one row of sufficient statistics per
// segment ([N, W] doubles) and a function that scores a sum of rows. Confidence
// intervals, paired tests and per-language reports only need this view
// (METRICS.md §6: resampling sums rows, it never re-tokenizes).
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/ter.h"

namespace moe::eval {

struct SegmentStatsTable {
  std::size_t width = 0;      // W: statistics per segment
  std::vector<double> values; // N * W, row-major
  std::size_t size() const { return width == 0 ? 0 : values.size() / width; }
  std::span<const double> row(std::size_t i) const { return {values.data() + i * width, width}; }
};

// Scores one summed row (W values).
using ScoreFromSums = std::function<double(std::span<const double>)>;

struct MetricStatistics {
  std::string name;           // "BLEU", "chrF2++", "TER"
  SegmentStatsTable table;    // [N, W]
  ScoreFromSums score;        // self-contained: holds a copy of the metric's options
  // The score of the summed rows listed in `segments` (an index may repeat).
  double score_of(std::span<const std::size_t> segments) const;
  // All rows summed in order (W values), and their score.
  std::vector<double> corpus_sums() const;
  double corpus_score() const;
};

// Sums the listed rows into `sums` (W values).
void sum_rows(const SegmentStatsTable& table, std::span<const std::size_t> segments,
              std::vector<double>& sums);

MetricStatistics bleu_statistics(const std::vector<BleuStats>& rows, const BleuOptions& options);
MetricStatistics chrf_statistics(const std::vector<ChrfStats>& rows, const ChrfOptions& options);
MetricStatistics ter_statistics(const std::vector<TerStats>& rows);

// BLEU statistics from a summed row (inverse of the row layout bleu_statistics uses).
BleuStats bleu_stats_from_sums(std::span<const double> sums);

}  // namespace moe::eval
