#pragma once
// chrF, chrF+ and chrF++ exactly as sacreBLEU 2.6 computes them (METRICS.md §3).
//
// Shapes: hypotheses is N lines, reference_streams R streams of N lines. The
// statistics of a segment are 3 integers per order (char orders 1..char_order,
// then word orders 1..word_order): [hyp n-grams, ref n-grams, matches].
// Lines are UTF-8 and used as given, like sacreBLEU's CHRF class (only its CLI
// right-strips lines): with `whitespace` on, trailing spaces are characters.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eval/ngram.h"
#include "eval/signature.h"

namespace moe::eval {

struct ChrfOptions {
  int char_order = 6;          // -cc / --chrf-char-order
  int word_order = 0;          // -cw / --chrf-word-order (2 = chrF++)
  int beta = 2;                // --chrf-beta
  bool lowercase = false;      // --chrf-lowercase
  bool whitespace = false;     // --chrf-whitespace: keep spaces in character n-grams
  bool eps_smoothing = false;  // --chrf-eps-smoothing: average per-order F (eff:no)
};

// "chrF2", "chrF2++", ...
std::string chrf_name(const ChrfOptions& options);

// One segment's (or the corpus sum's) statistics: 3 * (char_order + word_order) values.
using ChrfStats = std::vector<std::int64_t>;

class ChrfScorer {
 public:
  explicit ChrfScorer(const ChrfOptions& options);
  // Stats against the reference with the best segment score (first on ties).
  ChrfStats segment_stats(std::string_view hypothesis, std::span<const std::string_view> references,
                          std::size_t index = 0);
  const ChrfOptions& options() const { return options_; }

 private:
  // A line as chrF sees it: code points (whitespace removed unless kept) and words.
  struct Symbols {
    std::vector<std::uint32_t> chars, words;
  };
  void prepare(std::string_view line, const char* role, std::size_t index, Symbols& out);

  ChrfOptions options_;
  TokenVocab vocab_;
  Symbols hyp_, ref_;
  std::vector<NgramMatcher> matchers_;  // char orders then word orders, loaded with hyp_
};

void add_chrf_stats(ChrfStats& sum, const ChrfStats& row);
// The score (0..100) from summed statistics.
double chrf_from_stats(std::span<const std::int64_t> stats, const ChrfOptions& options);

std::vector<ChrfStats> chrf_segment_stats(const std::vector<std::string>& hypotheses,
                                          const std::vector<std::vector<std::string>>& reference_streams,
                                          const ChrfOptions& options);
double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::vector<std::string>>& reference_streams,
                   const ChrfOptions& options = {});

// case, eff, nc, nw, space.
std::vector<SignatureField> chrf_signature_fields(const ChrfOptions& options);

}  // namespace moe::eval
