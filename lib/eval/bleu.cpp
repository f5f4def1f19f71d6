#include "eval/bleu.h"

#include <cmath>
#include <cstdlib>

#include "eval/output.h"  // format_fixed
#include "eval/segment.h"
#include "eval/unicode.h"
#include "util/error.h"

namespace moe::eval {
namespace {

// sacreBLEU's my_log: log(0) would be -inf; it uses a huge negative instead.
double bleu_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

const char* smooth_method_name(SmoothMethod method) {
  switch (method) {
    case SmoothMethod::kExp: return "exp";
    case SmoothMethod::kFloor: return "floor";
    case SmoothMethod::kAddK: return "add-k";
    case SmoothMethod::kNone: return "none";
  }
  return "?";
}

SmoothMethod parse_smooth_method(std::string_view name) {
  for (SmoothMethod m :
       {SmoothMethod::kExp, SmoothMethod::kFloor, SmoothMethod::kAddK, SmoothMethod::kNone}) {
    if (name == smooth_method_name(m)) return m;
  }
  throw InputError("unknown smoothing method '" + std::string(name) +
                   "' (choose from exp, floor, add-k, none)");
}

BleuStats& BleuStats::operator+=(const BleuStats& other) {
  hyp_len += other.hyp_len;
  ref_len += other.ref_len;
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    correct[n] += other.correct[n];
    total[n] += other.total[n];
  }
  return *this;
}

std::string BleuScore::verbose() const {
  std::string out;
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    if (n > 0) out += '/';
    out += format_fixed(precisions[n], 1);
  }
  out += " (BP = " + format_fixed(brevity_penalty, 3) + " ratio = " + format_fixed(ratio, 3) +
         " hyp_len = " + std::to_string(hyp_len) + " ref_len = " + std::to_string(ref_len) + ")";
  return out;
}

void BleuScorer::words_of(std::string_view line, const char* role, std::size_t index,
                          std::vector<std::uint32_t>& ids) {
  std::u32string text = decode_segment(line, role, index);
  if (options_.lowercase) text = python_lower(text);
  const std::u32string tokenized = tokenize(python_rstrip(text), options_.tokenizer);
  ids.clear();
  for_each_python_word(tokenized, [&](std::u32string_view word) { ids.push_back(vocab_.id(word)); });
}

BleuStats BleuScorer::segment_stats(std::string_view hypothesis,
                                    std::span<const std::string_view> references,
                                    std::size_t index) {
  MOE_CHECK(!references.empty(), "BLEU needs at least one reference per segment");
  BleuStats stats;
  words_of(hypothesis, "hypothesis", index, hyp_ids_);
  stats.hyp_len = static_cast<std::int64_t>(hyp_ids_.size());
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    matchers_[n].load_hypothesis(hyp_ids_, n + 1, SymbolWidth::kWordId);
  }
  std::int64_t best_diff = -1;
  for (std::string_view reference : references) {
    words_of(reference, "reference", index, ref_ids_);
    const auto ref_len = static_cast<std::int64_t>(ref_ids_.size());
    const std::int64_t diff = std::llabs(stats.hyp_len - ref_len);
    if (best_diff < 0 || diff < best_diff || (diff == best_diff && ref_len < stats.ref_len)) {
      best_diff = diff;
      stats.ref_len = ref_len;
    }
    std::int64_t unused_total;
    for (NgramMatcher& matcher : matchers_) matcher.match_reference(ref_ids_, &unused_total);
  }
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    stats.total[n] = matchers_[n].hypothesis_total();
    stats.correct[n] = matchers_[n].clipped_against_max_reference();
  }
  return stats;
}

double effective_smooth_value(const BleuOptions& options) {
  if (options.smooth_value) {
    if (!std::isfinite(*options.smooth_value) || *options.smooth_value < 0) {
      throw InputError("BLEU smooth value must be a finite number >= 0");
    }
    return *options.smooth_value;
  }
  switch (options.smooth_method) {
    case SmoothMethod::kFloor: return 0.1;
    case SmoothMethod::kAddK: return 1.0;
    default: return 0.0;
  }
}

BleuScore bleu_from_stats(const BleuStats& stats, const BleuOptions& options) {
  BleuScore result;
  result.hyp_len = stats.hyp_len;
  result.ref_len = stats.ref_len;
  result.counts = stats.correct;
  result.totals = stats.total;
  const double sys_len = static_cast<double>(stats.hyp_len);
  const double ref_len = static_cast<double>(stats.ref_len);
  if (stats.hyp_len < stats.ref_len) {
    result.brevity_penalty = stats.hyp_len > 0 ? std::exp(1.0 - ref_len / sys_len) : 0.0;
  } else {
    result.brevity_penalty = 1.0;
  }
  result.ratio = stats.ref_len > 0 ? sys_len / ref_len : 0.0;

  bool any_match = false;
  for (std::int64_t c : stats.correct) any_match = any_match || c != 0;
  if (!any_match) return result;

  const double k = effective_smooth_value(options);
  double smooth_exp = 1.0;
  int eff_order = kBleuMaxOrder;
  for (int n = 0; n < kBleuMaxOrder; ++n) {
    double correct = static_cast<double>(stats.correct[n]);
    double total = static_cast<double>(stats.total[n]);
    if (options.smooth_method == SmoothMethod::kAddK && n > 0) {
      correct += k;
      total += k;
    }
    if (total == 0.0) break;
    if (options.effective_order) eff_order = n + 1;
    if (correct == 0.0) {
      if (options.smooth_method == SmoothMethod::kExp) {
        smooth_exp *= 2.0;
        result.precisions[n] = 100.0 / (smooth_exp * total);
      } else if (options.smooth_method == SmoothMethod::kFloor) {
        result.precisions[n] = (100.0 * k) / total;
      }
    } else {
      result.precisions[n] = (100.0 * correct) / total;
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += bleu_log(result.precisions[n]);
  result.score = result.brevity_penalty * std::exp(log_sum / eff_order);
  return result;
}

std::vector<BleuStats> bleu_segment_stats(const std::vector<std::string>& hypotheses,
                                          const std::vector<std::vector<std::string>>& reference_streams,
                                          const BleuOptions& options) {
  BleuScorer scorer(options);
  return score_segments(scorer, hypotheses, reference_streams);
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& reference_streams,
                      const BleuOptions& options) {
  BleuStats sum;
  for (const BleuStats& row : bleu_segment_stats(hypotheses, reference_streams, options)) {
    sum += row;
  }
  return bleu_from_stats(sum, options);
}

std::vector<SignatureField> bleu_signature_fields(const BleuOptions& options) {
  std::string smooth = smooth_method_name(options.smooth_method);
  if (options.smooth_method == SmoothMethod::kFloor ||
      options.smooth_method == SmoothMethod::kAddK) {
    smooth += "[" + format_fixed(effective_smooth_value(options), 2) + "]";
  }
  return {{"case", "c", options.lowercase ? "lc" : "mixed"},
          {"eff", "e", yes_no(options.effective_order)},
          {"tok", "tok", tokenizer_name(options.tokenizer)},
          {"smooth", "s", smooth}};
}

std::size_t count_tokenized_period_lines(const std::vector<std::string>& hypotheses) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const std::u32string decoded = decode_segment(hypotheses[i], "hypothesis", i);
    const std::u32string_view text = python_rstrip(decoded);
    const std::size_t n = text.size();
    if (n >= 2 && text[n - 2] == U' ' && text[n - 1] == U'.') ++count;
  }
  return count;
}

}  // namespace moe::eval
