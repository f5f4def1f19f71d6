#include "eval/ter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "eval/segment.h"
#include "eval/unicode.h"
#include "util/error.h"

namespace moe::eval {
namespace {

constexpr int kBeamWidth = 25;
constexpr int kMaxShiftSize = 10;
constexpr int kMaxShiftDistance = 50;
constexpr int kMaxShiftCandidates = 1000;
constexpr int kUncomputed = std::numeric_limits<int>::max() / 4;

using Words = std::vector<std::uint32_t>;

// Where each reference word is aligned and which words are in error.
struct Alignment {
  std::vector<int> ref_to_hyp;   // per reference position; -1 before the first hyp word
  std::vector<char> hyp_error;   // per hypothesis word
  std::vector<char> ref_error;   // per reference word
};

Alignment align_from_trace(const std::vector<EditOp>& trace, std::size_t ref_len) {
  Alignment a;
  a.ref_to_hyp.assign(ref_len, -1);
  int ph = -1, pr = -1;
  for (EditOp op : trace) {
    switch (op) {
      case EditOp::kMatch:
      case EditOp::kSubstitute: {
        const char error = op == EditOp::kSubstitute ? 1 : 0;
        ++ph;
        ++pr;
        a.ref_to_hyp[pr] = ph;
        a.hyp_error.push_back(error);
        a.ref_error.push_back(error);
        break;
      }
      case EditOp::kDelete:
        ++ph;
        a.hyp_error.push_back(1);
        break;
      case EditOp::kInsert:
        ++pr;
        a.ref_to_hyp[pr] = ph;
        a.ref_error.push_back(1);
        break;
    }
  }
  return a;
}

// Moves words[start, start+length) so that it begins before position `target`.
Words move_span(const Words& words, int start, int length, int target) {
  const auto at = [&](int i) { return words.begin() + std::clamp(i, 0, static_cast<int>(words.size())); };
  Words out;
  out.reserve(words.size());
  if (target < start) {
    out.insert(out.end(), at(0), at(target));
    out.insert(out.end(), at(start), at(start + length));
    out.insert(out.end(), at(target), at(start));
    out.insert(out.end(), at(start + length), words.end());
  } else if (target > start + length) {
    out.insert(out.end(), at(0), at(start));
    out.insert(out.end(), at(start + length), at(target));
    out.insert(out.end(), at(start), at(start + length));
    out.insert(out.end(), at(target), words.end());
  } else {
    out.insert(out.end(), at(0), at(start));
    out.insert(out.end(), at(start + length), at(length + target));
    out.insert(out.end(), at(start), at(start + length));
    out.insert(out.end(), at(length + target), words.end());
  }
  return out;
}

struct ShiftSearch {
  int gain = 0;
  Words shifted;
};

// One greedy step: the best single shift of `hyp` (METRICS.md §4.2 best_shift).
// `checked` counts candidates across the whole pair.
ShiftSearch best_shift(const Words& hyp, const Words& ref, int& checked) {
  const EditDistance base = ter_edit_distance(hyp, ref);
  const Alignment align = align_from_trace(base.trace, ref.size());
  const int h = static_cast<int>(hyp.size());
  const int r = static_cast<int>(ref.size());

  bool have_best = false;
  std::tuple<int, int, int, int> best_key;
  Words best_words;
  auto all_zero = [](const std::vector<char>& errors, int from, int length) {
    for (int k = from; k < from + length; ++k) {
      if (errors[k]) return false;
    }
    return true;
  };
  // Returns false once the candidate budget is exhausted.
  auto consider = [&](int sh, int sr, int length) {
    if (all_zero(align.hyp_error, sh, length)) return true;
    if (all_zero(align.ref_error, sr, length)) return true;
    if (sh <= align.ref_to_hyp[sr] && align.ref_to_hyp[sr] < sh + length) return true;
    int previous = -1;
    for (int offset = -1; offset < length; ++offset) {
      const int target = sr + offset == -1 ? 0 : align.ref_to_hyp[sr + offset] + 1;
      if (target == previous) continue;
      previous = target;
      Words moved = move_span(hyp, sh, length, target);
      const int cost = ter_edit_distance(moved, ref).cost;
      const std::tuple<int, int, int, int> key{base.cost - cost, length, -sh, -target};
      ++checked;
      if (!have_best || key > best_key) {
        have_best = true;
        best_key = key;
        best_words = std::move(moved);
      }
    }
    return checked < kMaxShiftCandidates;
  };

  bool budget_left = true;
  for (int sh = 0; sh < h && budget_left; ++sh) {
    for (int sr = 0; sr < r && budget_left; ++sr) {
      if (std::abs(sr - sh) > kMaxShiftDistance) continue;
      int length = 0;
      while (length < kMaxShiftSize && hyp[sh + length] == ref[sr + length]) {
        ++length;
        budget_left = consider(sh, sr, length);
        if (!budget_left || sh + length == h || sr + length == r) break;
      }
    }
  }
  if (!have_best) return {0, hyp};
  return {std::get<0>(best_key), std::move(best_words)};
}

}  // namespace

EditDistance ter_edit_distance(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref) {
  const int h = static_cast<int>(hyp.size());
  const int r = static_cast<int>(ref.size());
  const std::size_t width = static_cast<std::size_t>(r) + 1;
  std::vector<int> cost((static_cast<std::size_t>(h) + 1) * width, kUncomputed);
  std::vector<EditOp> ops(cost.size(), EditOp::kMatch);
  for (int j = 0; j <= r; ++j) {
    cost[j] = j;
    ops[j] = EditOp::kInsert;
  }
  const double ratio = h > 0 ? static_cast<double>(r) / static_cast<double>(h) : 1.0;
  const int beam = kBeamWidth < ratio / 2 ? static_cast<int>(std::ceil(ratio / 2 + kBeamWidth))
                                          : kBeamWidth;
  for (int i = 1; i <= h; ++i) {
    const int diag = static_cast<int>(std::floor(i * ratio));
    const int j_begin = std::max(0, diag - beam);
    const int j_end = i == h ? r + 1 : std::min(r + 1, diag + beam);
    int* row = &cost[i * width];
    const int* above = &cost[(i - 1) * width];
    EditOp* row_ops = &ops[i * width];
    for (int j = j_begin; j < j_end; ++j) {
      if (j == 0) {
        row[0] = above[0] + 1;
        row_ops[0] = EditOp::kDelete;
        continue;
      }
      const bool same = hyp[i - 1] == ref[j - 1];
      int best = above[j - 1] + (same ? 0 : 1);
      EditOp op = same ? EditOp::kMatch : EditOp::kSubstitute;
      if (above[j] + 1 < best) {
        best = above[j] + 1;
        op = EditOp::kDelete;
      }
      if (row[j - 1] + 1 < best) {
        best = row[j - 1] + 1;
        op = EditOp::kInsert;
      }
      row[j] = best;
      row_ops[j] = op;
    }
  }
  EditDistance result;
  result.cost = cost[static_cast<std::size_t>(h) * width + r];
  int i = h, j = r;
  while (i > 0 || j > 0) {
    const EditOp op = ops[i * width + j];
    result.trace.push_back(op);
    if (op == EditOp::kMatch || op == EditOp::kSubstitute) {
      --i;
      --j;
    } else if (op == EditOp::kDelete) {
      --i;
    } else {
      --j;
    }
  }
  std::reverse(result.trace.begin(), result.trace.end());
  return result;
}

int ter_pair_edits(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref) {
  if (ref.empty()) return static_cast<int>(hyp.size());
  Words current(hyp.begin(), hyp.end());
  const Words reference(ref.begin(), ref.end());
  int shifts = 0;
  int checked = 0;
  for (;;) {
    ShiftSearch step = best_shift(current, reference, checked);
    if (checked >= kMaxShiftCandidates || step.gain <= 0) break;
    ++shifts;
    current = std::move(step.shifted);
  }
  return shifts + ter_edit_distance(current, reference).cost;
}

void TerScorer::words_of(std::string_view line, const char* role, std::size_t index,
                         std::vector<std::uint32_t>& ids) {
  const std::u32string text = decode_segment(line, role, index);
  const std::u32string tokenized = tokenize_tercom(python_rstrip(text), options_);
  ids.clear();
  for_each_python_word(tokenized, [&](std::u32string_view w) { ids.push_back(vocab_.id(w)); });
}

TerStats TerScorer::segment_stats(std::string_view hypothesis,
                                  std::span<const std::string_view> references, std::size_t index) {
  MOE_CHECK(!references.empty(), "TER needs at least one reference per segment");
  words_of(hypothesis, "hypothesis", index, hyp_ids_);
  double best_edits = std::numeric_limits<double>::infinity();
  double ref_len_sum = 0.0;
  for (std::string_view reference : references) {
    words_of(reference, "reference", index, ref_ids_);
    best_edits = std::min(best_edits, static_cast<double>(ter_pair_edits(hyp_ids_, ref_ids_)));
    ref_len_sum += static_cast<double>(ref_ids_.size());
  }
  return {best_edits, ref_len_sum / static_cast<double>(references.size())};
}

double ter_from_stats(const TerStats& stats) {
  if (stats.ref_len > 0) return 100.0 * (stats.edits / stats.ref_len);
  return stats.edits > 0 ? 100.0 : 0.0;
}

std::vector<TerStats> ter_segment_stats(const std::vector<std::string>& hypotheses,
                                        const std::vector<std::vector<std::string>>& reference_streams,
                                        const TerOptions& options) {
  TerScorer scorer(options);
  return score_segments(scorer, hypotheses, reference_streams);
}

double corpus_ter(const std::vector<std::string>& hypotheses,
                  const std::vector<std::vector<std::string>>& reference_streams,
                  const TerOptions& options) {
  TerStats sum;
  for (const TerStats& row : ter_segment_stats(hypotheses, reference_streams, options)) sum += row;
  return ter_from_stats(sum);
}

std::vector<SignatureField> ter_signature_fields(const TerOptions& options) {
  return {{"case", "c", options.case_sensitive ? "mixed" : "lc"},
          {"tok", "t", "tercom"},
          {"norm", "nr", yes_no(options.normalized)},
          {"punct", "pn", yes_no(!options.no_punct)},
          {"asian", "as", yes_no(options.asian_support)}};
}

}  // namespace moe::eval
