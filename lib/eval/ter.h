#pragma once
// Translation Edit Rate as sacreBLEU 2.6 computes it (tercom's greedy shift
// search over a beam-limited Levenshtein distance, METRICS.md §4).
//
// Shapes: hypotheses is N lines, reference_streams R streams of N lines. Lines
// are UTF-8; each is right-stripped.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eval/ngram.h"
#include "eval/signature.h"
#include "eval/tokenizers.h"

namespace moe::eval {

using TerOptions = TercomOptions;

// A segment's edits (min over references) and average reference length, or their corpus sums.
struct TerStats {
  double edits = 0.0;
  double ref_len = 0.0;
  TerStats& operator+=(const TerStats& other) {
    edits += other.edits;
    ref_len += other.ref_len;
    return *this;
  }
};

// Word-level edit operations as tercom writes them.
enum class EditOp : char { kMatch = 'M', kSubstitute = 'S', kDelete = 'D', kInsert = 'I' };

struct EditDistance {
  int cost = 0;
  std::vector<EditOp> trace;  // forward order, one op per step
};

// Beam-limited Levenshtein distance between word-id sequences (hyp A, ref R).
EditDistance ter_edit_distance(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref);

// Number of edits (shifts + insertions + deletions + substitutions) turning hyp into ref.
int ter_pair_edits(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref);

class TerScorer {
 public:
  explicit TerScorer(const TerOptions& options) : options_(options) {}
  TerStats segment_stats(std::string_view hypothesis, std::span<const std::string_view> references,
                         std::size_t index = 0);
  const TerOptions& options() const { return options_; }

 private:
  void words_of(std::string_view line, const char* role, std::size_t index,
                std::vector<std::uint32_t>& ids);

  TerOptions options_;
  TokenVocab vocab_;
  std::vector<std::uint32_t> hyp_ids_, ref_ids_;
};

double ter_from_stats(const TerStats& stats);  // 0..(can exceed 100)

std::vector<TerStats> ter_segment_stats(const std::vector<std::string>& hypotheses,
                                        const std::vector<std::vector<std::string>>& reference_streams,
                                        const TerOptions& options);
double corpus_ter(const std::vector<std::string>& hypotheses,
                  const std::vector<std::vector<std::string>>& reference_streams,
                  const TerOptions& options = {});

// case, tok, norm, punct, asian.
std::vector<SignatureField> ter_signature_fields(const TerOptions& options);

}  // namespace moe::eval
