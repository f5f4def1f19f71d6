#include "eval/chrf.h"

#include "eval/segment.h"
#include "eval/unicode.h"
#include "util/error.h"

namespace moe::eval {
namespace {

constexpr double kChrfEpsilon = 1e-16;

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

}  // namespace

std::string chrf_name(const ChrfOptions& options) {
  return "chrF" + std::to_string(options.beta) + std::string(options.word_order, '+');
}

ChrfScorer::ChrfScorer(const ChrfOptions& options) : options_(options) {
  if (options.char_order < 0 || options.word_order < 0 || options.char_order + options.word_order == 0) {
    throw InputError("chrF needs char order >= 0, word order >= 0 and at least one order");
  }
  if (options.beta < 0) throw InputError("chrF beta must be >= 0");
}

void ChrfScorer::prepare(std::string_view line, const char* role, std::size_t index,
                         Symbols& out) {
  std::u32string text = decode_segment(line, role, index);
  if (options_.lowercase) text = python_lower(text);
  out.chars.clear();
  for (char32_t c : text) {
    if (options_.whitespace || !is_python_space(c)) out.chars.push_back(c);
  }
  out.words.clear();
  if (options_.word_order > 0) {
    // Each word loses at most one ASCII punctuation character, the last one first.
    for_each_python_word(text, [&](std::u32string_view w) {
      if (w.size() > 1 && is_ascii_punctuation(w.back())) {
        out.words.push_back(vocab_.id(w.substr(0, w.size() - 1)));
        out.words.push_back(vocab_.id(w.substr(w.size() - 1)));
      } else if (w.size() > 1 && is_ascii_punctuation(w.front())) {
        out.words.push_back(vocab_.id(w.substr(0, 1)));
        out.words.push_back(vocab_.id(w.substr(1)));
      } else {
        out.words.push_back(vocab_.id(w));
      }
    });
  }
}

ChrfStats ChrfScorer::segment_stats(std::string_view hypothesis,
                                    std::span<const std::string_view> references,
                                    std::size_t index) {
  MOE_CHECK(!references.empty(), "chrF needs at least one reference per segment");
  prepare(hypothesis, "hypothesis", index, hyp_);
  const int char_order = options_.char_order;
  matchers_.resize(static_cast<std::size_t>(char_order + options_.word_order));
  for (std::size_t i = 0; i < matchers_.size(); ++i) {
    const bool is_char = static_cast<int>(i) < char_order;
    const int order = is_char ? static_cast<int>(i) + 1 : static_cast<int>(i) - char_order + 1;
    matchers_[i].load_hypothesis(is_char ? hyp_.chars : hyp_.words, order,
                                 is_char ? SymbolWidth::kCodePoint : SymbolWidth::kWordId);
  }
  ChrfStats best, current(3 * matchers_.size());
  double best_score = -1.0;
  for (std::string_view reference : references) {
    prepare(reference, "reference", index, ref_);
    for (std::size_t i = 0; i < matchers_.size(); ++i) {
      const bool is_char = static_cast<int>(i) < char_order;
      std::int64_t ref_total = 0;
      const std::int64_t matches = matchers_[i].match_reference(is_char ? ref_.chars : ref_.words, &ref_total);
      // Quirk: without reference n-grams of this order the hypothesis count is 0.
      current[3 * i] = ref_total > 0 ? matchers_[i].hypothesis_total() : 0;
      current[3 * i + 1] = ref_total;
      current[3 * i + 2] = matches;
    }
    const double score = chrf_from_stats(current, options_);
    if (score > best_score) {
      best_score = score;
      best = current;
    }
  }
  return best;
}

void add_chrf_stats(ChrfStats& sum, const ChrfStats& row) {
  if (sum.empty()) sum.assign(row.size(), 0);
  MOE_CHECK(sum.size() == row.size(), "chrF statistics of different orders");
  for (std::size_t i = 0; i < row.size(); ++i) sum[i] += row[i];
}

double chrf_from_stats(std::span<const std::int64_t> stats, const ChrfOptions& options) {
  const std::size_t orders = stats.size() / 3;
  const double f = static_cast<double>(options.beta * options.beta);
  if (options.eps_smoothing) {
    double sum = 0.0;
    for (std::size_t i = 0; i < orders; ++i) {
      const auto h = stats[3 * i], r = stats[3 * i + 1], m = stats[3 * i + 2];
      const double prec = h > 0 ? static_cast<double>(m) / static_cast<double>(h) : kChrfEpsilon;
      const double rec = r > 0 ? static_cast<double>(m) / static_cast<double>(r) : kChrfEpsilon;
      const double denom = f * prec + rec;
      sum += denom > 0 ? (1 + f) * prec * rec / denom : kChrfEpsilon;
    }
    return (100.0 * sum) / static_cast<double>(orders);
  }
  double precision = 0.0, recall = 0.0;
  int effective = 0;
  for (std::size_t i = 0; i < orders; ++i) {
    const auto h = stats[3 * i], r = stats[3 * i + 1], m = stats[3 * i + 2];
    if (h > 0 && r > 0) {
      precision += static_cast<double>(m) / static_cast<double>(h);
      recall += static_cast<double>(m) / static_cast<double>(r);
      ++effective;
    }
  }
  if (effective == 0) return 0.0;
  precision /= effective;
  recall /= effective;
  if (precision + recall == 0.0) return 0.0;
  double t = (1 + f) * precision * recall;
  t = t / (f * precision + recall);
  return 100.0 * t;
}

std::vector<ChrfStats> chrf_segment_stats(const std::vector<std::string>& hypotheses,
                                          const std::vector<std::vector<std::string>>& reference_streams,
                                          const ChrfOptions& options) {
  ChrfScorer scorer(options);
  return score_segments(scorer, hypotheses, reference_streams);
}

double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::vector<std::string>>& reference_streams,
                   const ChrfOptions& options) {
  ChrfStats sum(3 * static_cast<std::size_t>(options.char_order + options.word_order), 0);
  for (const ChrfStats& row : chrf_segment_stats(hypotheses, reference_streams, options)) {
    add_chrf_stats(sum, row);
  }
  return chrf_from_stats(sum, options);
}

std::vector<SignatureField> chrf_signature_fields(const ChrfOptions& options) {
  return {{"case", "c", options.lowercase ? "lc" : "mixed"},
          {"eff", "e", yes_no(!options.eps_smoothing)},
          {"nc", "nc", std::to_string(options.char_order)},
          {"nw", "nw", std::to_string(options.word_order)},
          {"space", "s", yes_no(options.whitespace)}};
}

}  // namespace moe::eval
