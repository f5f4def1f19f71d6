#pragma once
// sacreBLEU's text and JSON output (METRICS.md §5) plus this toolkit's
// per-language table. Pure formatting: every function returns a string.
#include <optional>
#include <string>
#include <vector>

#include "eval/signature.h"
#include "eval/significance.h"

namespace moe::eval {

struct MetricResult {
  std::string name;  // "BLEU", "chrF2", "chrF2++", "TER"
  double score = 0.0;
  Signature signature;
  std::string verbose;  // BLEU's "p1/p2/p3/p4 (BP = ...)", empty for chrF and TER
  std::optional<ConfidenceInterval> confidence;
};

struct OutputOptions {
  int width = 1;            // -w: decimals of the score
  bool short_signature = false;  // -sh (text only)
  bool score_only = false;  // -b
};

// "%.Nf" of value (correctly rounded, like Python's format()).
std::string format_fixed(double value, int decimals);
// Python's repr() of a double: shortest round-trip digits, "100.0", "1e-05".
std::string python_float_repr(double value);
// float(format_fixed(value, decimals)), as sacreBLEU's JSON "score" field.
double round_to_width(double value, int decimals);

// Whether the bootstrap estimate is printed: as sacreBLEU's Score.format, only when
// it exists and its mean is > 0 (a resampled mean of exactly 0 prints no "μ" part).
bool shows_confidence(const MetricResult& result);
// "{score}" or "{score} (μ = m ± ci)": what -b prints, in text and JSON alike.
std::string format_score(const MetricResult& result, int width);
// "{name}|{signature} = {score} [(μ = m ± ci) ][verbose]"
std::string format_text_line(const MetricResult& result, const OutputOptions& options);
// Several metrics: one line each, left-padded so that their first '=' line up.
// Lines without '=' (-b without a "μ" part) come first, as sacreBLEU prints them.
// Ends with '\n'.
std::string format_text(const std::vector<MetricResult>& results, const OutputOptions& options);
// One object (json.dumps(indent=1)) or "[\n" + objects joined by ",\n" + "\n]"; with -b
// the objects are format_score strings, unquoted. Ends with '\n'.
std::string format_json(const std::vector<MetricResult>& results, const OutputOptions& options);
std::string json_object(const MetricResult& result, int width);
std::string json_string(const std::string& text);
// Python's repr() of a str as messages quote names ('x', or "it's"); ASCII
// control characters are escaped, other characters kept.
std::string python_string_repr(const std::string& text);

// Per-language scores and their macro average (GShard-style reporting).
struct LanguageRow {
  std::string language;
  std::size_t segments = 0;
  std::vector<double> scores;  // one per metric, in LanguageReport::metrics order
};
struct LanguageReport {
  std::vector<std::string> metrics;  // metric names
  std::vector<LanguageRow> rows;     // sorted by language code
  std::vector<double> macro_average; // unweighted mean over rows, per metric
};

// languages has one code per segment (N); every metric has N rows.
LanguageReport build_language_report(const std::vector<std::string>& languages,
                                     const std::vector<const MetricStatistics*>& metrics);
// A plain-text table: header, one row per language, then "macro-avg".
std::string format_language_table(const LanguageReport& report, int width);
// The "languages" and "macro_average" members of an indent=1 JSON object, indented
// by `indent` spaces, without the enclosing braces.
std::string language_report_json(const LanguageReport& report, int width, int indent);

// Corpus results followed by the per-language report. Text: the metric lines, a
// blank line, the table. JSON: {"corpus": [objects], "languages": [...],
// "macro_average": {...}}. Ends with '\n'.
std::string format_with_language_report(const std::vector<MetricResult>& results,
                                        const LanguageReport& report,
                                        const OutputOptions& options, bool json);

}  // namespace moe::eval
