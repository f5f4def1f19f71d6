#include "eval/output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>
#include <utility>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::eval {
namespace {

std::string indent_of(int n) { return std::string(static_cast<std::size_t>(n), ' '); }

// "μ = {mean} ± {half_width}", as sacreBLEU's Score.format writes the estimate.
std::string confidence_text(const ConfidenceInterval& ci, int width) {
  return "\u03bc = " + format_fixed(ci.mean, width) + " \u00b1 " +
         format_fixed(ci.half_width, width);
}

}  // namespace

std::string format_fixed(double value, int decimals) {
  // No fixed-size buffer: "%.2f" of a huge -sv value (1e70) prints every digit, as Python does.
  const int size = std::snprintf(nullptr, 0, "%.*f", decimals, value);
  std::string out(static_cast<std::size_t>(size), '\0');
  std::snprintf(out.data(), out.size() + 1, "%.*f", decimals, value);
  return out;
}

double round_to_width(double value, int decimals) {
  return std::strtod(format_fixed(value, decimals).c_str(), nullptr);
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);  // e.g. "-1.2345e+01"
  const std::size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string sign, digits;
  for (std::size_t i = 0; i < e; ++i) {
    if (sci[i] == '-') sign = "-";
    else if (sci[i] != '.') digits += sci[i];
  }
  const int n = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {
    std::string mantissa = digits.substr(0, 1);
    if (n > 1) mantissa += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return sign + mantissa + exp_buf;
  }
  std::string out;
  if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else if (exponent + 1 >= n) {
    out = digits + std::string(static_cast<std::size_t>(exponent + 1 - n), '0') + ".0";
  } else {
    out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  }
  return sign + out;
}

bool shows_confidence(const MetricResult& result) {
  return result.confidence && result.confidence->mean > 0;
}

std::string format_score(const MetricResult& result, int width) {
  std::string score = format_fixed(result.score, width);
  if (shows_confidence(result)) score += " (" + confidence_text(*result.confidence, width) + ")";
  return score;
}

std::string format_text_line(const MetricResult& result, const OutputOptions& options) {
  std::string line = result.name + "|" + result.signature.format(options.short_signature) +
                     " = " + format_score(result, options.width);
  if (!result.verbose.empty()) line += " " + result.verbose;
  return line;
}

std::string format_text(const std::vector<MetricResult>& results, const OutputOptions& options) {
  std::vector<std::string> lines;
  for (const MetricResult& r : results) {
    lines.push_back(options.score_only ? format_score(r, options.width)
                                       : format_text_line(r, options));
  }
  if (lines.size() == 1) return lines.front() + "\n";
  // sacreBLEU's print_single_results: a line without '=' is printed as it is met,
  // the others afterwards, right-aligned on the character before their first '='
  // (widths in code points: "μ" is one).
  std::string out;
  std::vector<std::pair<std::size_t, const std::string*>> aligned;  // (head width, line)
  std::size_t widest = 0;
  for (const std::string& line : lines) {
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos) {
      out += line + "\n";
      continue;
    }
    const std::size_t head = utf8::length(std::string_view(line).substr(0, equals)) - 1;
    widest = std::max(widest, head);
    aligned.emplace_back(head, &line);
  }
  for (const auto& [head, line] : aligned) out += std::string(widest - head, ' ') + *line + "\n";
  return out;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string python_string_repr(const std::string& text) {
  const bool has_single = text.find('\'') != std::string::npos;
  const char quote = has_single && text.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, quote);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", byte);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + quote;
}

std::string json_object(const MetricResult& result, int width) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("name", json_string(result.name));
  fields.emplace_back("score", python_float_repr(round_to_width(result.score, width)));
  fields.emplace_back("signature", json_string(result.signature.format(false)));
  if (shows_confidence(result)) {
    fields.emplace_back("confidence_mean",
                        python_float_repr(round_to_width(result.confidence->mean, width)));
    fields.emplace_back("confidence_var",
                        python_float_repr(round_to_width(result.confidence->half_width, width)));
    fields.emplace_back("confidence", json_string(confidence_text(*result.confidence, width)));
  }
  if (!result.verbose.empty()) fields.emplace_back("verbose_score", json_string(result.verbose));
  for (const SignatureField& f : result.signature.fields) {
    fields.emplace_back(f.key, json_string(f.value));
  }
  std::string out = "{\n";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    out += " " + json_string(fields[i].first) + ": " + fields[i].second;
    out += i + 1 < fields.size() ? ",\n" : "\n";
  }
  return out + "}";
}

std::string format_json(const std::vector<MetricResult>& results, const OutputOptions& options) {
  MOE_CHECK(!results.empty(), "no metric to print");
  std::vector<std::string> items;
  for (const MetricResult& r : results) {
    items.push_back(options.score_only ? format_score(r, options.width)
                                       : json_object(r, options.width));
  }
  if (items.size() == 1) return items[0] + "\n";
  std::string out = "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) out += items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  return out + "]\n";
}

LanguageReport build_language_report(const std::vector<std::string>& languages,
                                     const std::vector<const MetricStatistics*>& metrics) {
  std::map<std::string, std::vector<std::size_t>> segments_by_language;
  for (std::size_t i = 0; i < languages.size(); ++i) segments_by_language[languages[i]].push_back(i);
  LanguageReport report;
  for (const MetricStatistics* m : metrics) {
    MOE_CHECK(m->table.size() == languages.size(), "one language code per segment expected");
    report.metrics.push_back(m->name);
  }
  report.macro_average.assign(metrics.size(), 0.0);
  for (const auto& [language, segments] : segments_by_language) {
    LanguageRow row{language, segments.size(), {}};
    for (std::size_t k = 0; k < metrics.size(); ++k) {
      row.scores.push_back(metrics[k]->score_of(segments));
      report.macro_average[k] += row.scores.back();
    }
    report.rows.push_back(std::move(row));
  }
  for (double& avg : report.macro_average) {
    if (!report.rows.empty()) avg /= static_cast<double>(report.rows.size());
  }
  return report;
}

std::string format_language_table(const LanguageReport& report, int width) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header = {"lang", "segments"};
  header.insert(header.end(), report.metrics.begin(), report.metrics.end());
  cells.push_back(header);
  for (const LanguageRow& row : report.rows) {
    std::vector<std::string> line = {row.language, std::to_string(row.segments)};
    for (double s : row.scores) line.push_back(format_fixed(s, width));
    cells.push_back(line);
  }
  std::vector<std::string> macro = {"macro-avg", std::to_string(report.rows.size()) + " langs"};
  for (double s : report.macro_average) macro.push_back(format_fixed(s, width));
  cells.push_back(macro);

  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& line : cells) {
    for (std::size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], line[c].size());
  }
  std::string out;
  for (std::size_t r = 0; r < cells.size(); ++r) {
    if (r + 1 == cells.size()) {
      std::size_t total = 0;
      for (std::size_t w : widths) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
    for (std::size_t c = 0; c < cells[r].size(); ++c) {
      const std::string& cell = cells[r][c];
      const std::string pad(widths[c] - cell.size(), ' ');
      out += c == 0 ? cell + pad : "  " + pad + cell;  // language left, numbers right
    }
    out += "\n";
  }
  return out;
}

std::string language_report_json(const LanguageReport& report, int width, int indent) {
  const std::string i1 = indent_of(indent), i2 = indent_of(indent + 1), i3 = indent_of(indent + 2);
  std::string out = i1 + "\"languages\": [\n";
  for (std::size_t r = 0; r < report.rows.size(); ++r) {
    const LanguageRow& row = report.rows[r];
    out += i2 + "{\n" + i3 + "\"lang\": " + json_string(row.language) + ",\n" + i3 +
           "\"segments\": " + std::to_string(row.segments);
    for (std::size_t k = 0; k < row.scores.size(); ++k) {
      out += ",\n" + i3 + json_string(report.metrics[k]) + ": " +
             python_float_repr(round_to_width(row.scores[k], width));
    }
    out += "\n" + i2 + "}" + (r + 1 < report.rows.size() ? ",\n" : "\n");
  }
  out += i1 + "],\n" + i1 + "\"macro_average\": {\n";
  out += i2 + "\"languages\": " + std::to_string(report.rows.size());
  for (std::size_t k = 0; k < report.metrics.size(); ++k) {
    out += ",\n" + i2 + json_string(report.metrics[k]) + ": " +
           python_float_repr(round_to_width(report.macro_average[k], width));
  }
  return out + "\n" + i1 + "}";
}

std::string format_with_language_report(const std::vector<MetricResult>& results,
                                        const LanguageReport& report,
                                        const OutputOptions& options, bool json) {
  if (!json) return format_text(results, options) + "\n" + format_language_table(report, options.width);
  std::string out = "{\n \"corpus\": [\n";
  for (std::size_t k = 0; k < results.size(); ++k) {
    std::string object = "  ";
    for (char ch : json_object(results[k], options.width)) {
      object += ch;
      if (ch == '\n') object += "  ";
    }
    out += object + (k + 1 < results.size() ? ",\n" : "\n");
  }
  return out + " ],\n" + language_report_json(report, options.width, 1) + "\n}\n";
}

}  // namespace moe::eval
