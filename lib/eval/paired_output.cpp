#include "eval/paired_output.h"

#include <algorithm>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::eval {
namespace {

constexpr double kSignificanceThreshold = 0.05;

// Display width in code points (enough for names, numbers, μ and ±).
std::size_t display_width(const std::string& s) { return utf8::length(s); }

std::string repeat(const std::string& piece, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += piece;
  return out;
}

using Cell = std::vector<std::string>;  // lines of one table cell

std::string grid(const std::vector<std::vector<Cell>>& rows) {
  const std::size_t columns = rows.front().size();
  std::vector<std::size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < columns; ++c) {
      for (const std::string& line : row[c]) widths[c] = std::max(widths[c], display_width(line));
    }
  }
  auto rule = [&](const char* left, const char* fill, const char* mid, const char* right) {
    std::string out = left;
    for (std::size_t c = 0; c < columns; ++c) {
      out += repeat(fill, widths[c] + 2);
      out += c + 1 < columns ? mid : right;
    }
    return out + "\n";
  };
  std::string out = rule("\u2552", "\u2550", "\u2564", "\u2555");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::size_t height = 0;
    for (const Cell& cell : rows[r]) height = std::max(height, cell.size());
    for (std::size_t l = 0; l < height; ++l) {
      out += "\u2502";
      for (std::size_t c = 0; c < columns; ++c) {
        const std::string text = l < rows[r][c].size() ? rows[r][c][l] : "";
        out += " " + text + std::string(widths[c] - display_width(text), ' ') + " \u2502";
      }
      out += "\n";
    }
    if (r == 0) {
      out += rule("\u255e", "\u2550", "\u256a", "\u2561");
    } else if (r + 1 < rows.size()) {
      out += rule("\u251c", "\u2500", "\u253c", "\u2524");
    }
  }
  return out + rule("\u2558", "\u2550", "\u2567", "\u255b");
}

std::string p_value_text(double p) {
  return "(p = " + format_fixed(p, 4) + ")" + (p <= kSignificanceThreshold ? "*" : "");
}

std::string json_number_or_null(const std::optional<double>& value) {
  return value ? python_float_repr(*value) : "null";
}

}  // namespace

std::vector<PairedSystem> compare_with_baseline(
    PairedTest test, int samples, const std::vector<std::string>& names,
    const std::vector<std::vector<const MetricStatistics*>>& metrics,
    std::optional<std::uint64_t> seed) {
  MOE_CHECK(names.size() == metrics.size() && !metrics.empty(), "one name per system expected");
  const bool bootstrap = test == PairedTest::kBootstrap;
  std::vector<PairedSystem> systems;
  for (std::size_t s = 0; s < metrics.size(); ++s) {
    PairedSystem system{names[s], {}};
    for (std::size_t k = 0; k < metrics[s].size(); ++k) {
      const MetricStatistics& base = *metrics[0][k];
      const MetricStatistics& sys = *metrics[s][k];
      if (s == 0) {
        PairedComparison baseline;
        baseline.score = base.corpus_score();
        if (bootstrap) baseline.confidence = bootstrap_confidence(base, samples, seed);
        system.metrics.push_back(baseline);
      } else {
        system.metrics.push_back(bootstrap ? paired_bootstrap(base, sys, samples, seed)
                                           : paired_approximate_randomization(base, sys, samples, seed));
      }
    }
    systems.push_back(std::move(system));
  }
  return systems;
}

std::string format_paired_text(const PairedReport& report, const OutputOptions& options) {
  const bool bootstrap = report.test == PairedTest::kBootstrap;
  std::vector<std::vector<Cell>> rows;
  std::vector<Cell> header = {{"System"}};
  for (const std::string& name : report.metric_names) {
    header.push_back({bootstrap ? name + " (\u03bc \u00b1 95% CI)" : name});
  }
  rows.push_back(header);
  for (std::size_t s = 0; s < report.systems.size(); ++s) {
    const PairedSystem& system = report.systems[s];
    std::vector<Cell> row = {{system.name}};
    for (const PairedComparison& m : system.metrics) {
      std::string score = format_fixed(m.score, options.width);
      if (m.confidence) {
        score += " (" + format_fixed(m.confidence->mean, options.width) + " \u00b1 " +
                 format_fixed(m.confidence->half_width, options.width) + ")";
      }
      Cell cell = {score};
      if (s > 0) cell.push_back(p_value_text(m.p_value));
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  std::string out = grid(rows);
  const std::string title =
      bootstrap ? "Paired bootstrap resampling test with " + std::to_string(report.samples) +
                      " resampling trials"
                : "Paired approximate randomization test with " + std::to_string(report.samples) +
                      " trials";
  const std::string line(title.size(), '-');
  out += "\n" + line + "\n" + title + "\n" + line + "\n";
  out += " - Each system is compared with " + report.systems.front().name + ".\n";
  if (bootstrap) {
    out += " - Each cell shows the actual score, then the bootstrap mean and the half-width of\n"
           "   its 95% confidence interval.\n";
  }
  out += " - Null hypothesis: the system and the baseline come from the same underlying process.\n"
         "   The p-value estimates how often a score difference at least as large as the\n"
         "   observed one arises by chance under that hypothesis.\n"
         " - p-values <= 0.05 are marked with \"*\": the difference is unlikely to be chance.\n";
  out += "\n" + line + "\n";
  for (std::size_t k = 0; k < report.metric_names.size(); ++k) {
    out += report.metric_names[k] + "|" + report.signatures[k].format(options.short_signature) + "\n";
  }
  return out;
}

std::string format_paired_json(const PairedReport& report) {
  std::string out = "[\n";
  for (std::size_t s = 0; s < report.systems.size(); ++s) {
    const PairedSystem& system = report.systems[s];
    out += " {\n  \"system\": " + json_string(system.name);
    for (std::size_t k = 0; k < system.metrics.size(); ++k) {
      const PairedComparison& m = system.metrics[k];
      std::optional<double> p, mean, ci;
      if (s > 0) p = m.p_value;
      if (m.confidence) {
        mean = m.confidence->mean;
        ci = m.confidence->half_width;
      }
      out += ",\n  " + json_string(report.metric_names[k]) + ": {\n   \"score\": " +
             python_float_repr(m.score) + ",\n   \"p_value\": " + json_number_or_null(p) +
             ",\n   \"mean\": " + json_number_or_null(mean) + ",\n   \"ci\": " +
             json_number_or_null(ci) + "\n  }";
    }
    out += "\n }" + std::string(s + 1 < report.systems.size() ? ",\n" : "\n");
  }
  return out + "]\n";
}

}  // namespace moe::eval
