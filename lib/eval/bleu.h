#pragma once
// Corpus and sentence BLEU exactly as sacreBLEU 2.6 computes it (METRICS.md §2).
//
//   moe::eval::BleuOptions options;                 // 13a, mixed case, exp smoothing
//   BleuScore s = moe::eval::corpus_bleu(hyps, {refs}, options);
//
// Shapes: hyps is N lines; reference_streams is R streams of N lines each (one
// reference per stream and segment). Lines are UTF-8; each is right-stripped.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eval/ngram.h"
#include "eval/signature.h"
#include "eval/tokenizers.h"

namespace moe::eval {

inline constexpr int kBleuMaxOrder = 4;

enum class SmoothMethod { kExp, kFloor, kAddK, kNone };
const char* smooth_method_name(SmoothMethod method);  // "exp", "floor", "add-k", "none"
SmoothMethod parse_smooth_method(std::string_view name);  // throws InputError

struct BleuOptions {
  Tokenizer tokenizer = Tokenizer::k13a;
  bool lowercase = false;                  // Python str.lower() before tokenizing
  SmoothMethod smooth_method = SmoothMethod::kExp;
  std::optional<double> smooth_value;      // unset: floor 0.1, add-k 1 (exp/none ignore it)
  bool effective_order = false;            // on for sentence-level BLEU
};

// Sufficient statistics of one segment or (summed) of a corpus.
struct BleuStats {
  std::int64_t hyp_len = 0;
  std::int64_t ref_len = 0;  // closest reference length, ties to the shorter
  std::array<std::int64_t, kBleuMaxOrder> correct{};  // clipped matches per order
  std::array<std::int64_t, kBleuMaxOrder> total{};    // hypothesis n-grams per order
  BleuStats& operator+=(const BleuStats& other);
};

struct BleuScore {
  double score = 0.0;                                // 0..100
  std::array<double, kBleuMaxOrder> precisions{};    // percentages, after smoothing
  double brevity_penalty = 0.0;
  double ratio = 0.0;                                // hyp_len / ref_len
  std::int64_t hyp_len = 0;
  std::int64_t ref_len = 0;
  std::array<std::int64_t, kBleuMaxOrder> counts{};  // raw, before add-k
  std::array<std::int64_t, kBleuMaxOrder> totals{};
  // "p1/p2/p3/p4 (BP = x.xxx ratio = x.xxx hyp_len = N ref_len = M)"
  std::string verbose() const;
};

// Turns segments into statistics. Keeps a token vocabulary across calls (ids
// are an implementation detail), so reuse one scorer for a whole corpus.
class BleuScorer {
 public:
  explicit BleuScorer(const BleuOptions& options) : options_(options) {}
  // `index` only names the line in errors (invalid UTF-8).
  BleuStats segment_stats(std::string_view hypothesis,
                          std::span<const std::string_view> references, std::size_t index = 0);
  const BleuOptions& options() const { return options_; }

 private:
  void words_of(std::string_view line, const char* role, std::size_t index,
                std::vector<std::uint32_t>& ids);

  BleuOptions options_;
  TokenVocab vocab_;
  std::vector<std::uint32_t> hyp_ids_, ref_ids_;
  std::array<NgramMatcher, kBleuMaxOrder> matchers_;  // one per order
};

// One row per segment: N rows.
std::vector<BleuStats> bleu_segment_stats(const std::vector<std::string>& hypotheses,
                                          const std::vector<std::vector<std::string>>& reference_streams,
                                          const BleuOptions& options);
BleuScore bleu_from_stats(const BleuStats& stats, const BleuOptions& options);
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& reference_streams,
                      const BleuOptions& options = {});

// smooth_value as used: the option or the method's default. Throws InputError
// for a NaN, infinite or negative option.
double effective_smooth_value(const BleuOptions& options);
// case, eff, tok, smooth (the keys between nrefs and version).
std::vector<SignatureField> bleu_signature_fields(const BleuOptions& options);

// Hypothesis lines that end in " ." after rstrip; sacreBLEU warns at >= 100.
std::size_t count_tokenized_period_lines(const std::vector<std::string>& hypotheses);
inline constexpr std::size_t kTokenizedPeriodWarningLines = 100;

}  // namespace moe::eval
