#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace moe::train {
namespace {

using Json = nlohmann::json;

struct Series {
  std::string name;
  std::vector<double> x = {}, y = {};
};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v, int precision = 4) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Geometry shared by the charts: a W x H plot area inside margins.
constexpr double kW = 520, kH = 220, kLeft = 60, kRight = 20, kTop = 30, kBottom = 40;

// "Nice" tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

std::string line_chart(const std::string& title, const std::vector<Series>& series,
                       const std::string& y_label) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (!std::isfinite(x0)) return "";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {  // a constant series (e.g. a flat learning rate): centre it
    const double pad = y0 != 0 ? std::fabs(y0) * 0.5 : 1.0;
    y0 -= pad, y1 += pad;
  }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * kW; };
  auto py = [&](double y) { return kTop + (1 - (y - y0) / (y1 - y0)) * kH; };

  std::ostringstream o;
  o << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\""
    << kLeft + kW + kRight << "\" height=\"" << kTop + kH + kBottom << "\" aria-label=\""
    << esc(title) << "\">\n<title>" << esc(title) << "</title>\n";
  o << "<text x=\"" << kLeft << "\" y=\"18\" class=\"t\">" << esc(title) << "</text>\n";
  for (double t : ticks(y0, y1)) {
    o << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + kW << "\" y1=\"" << py(t) << "\" y2=\""
      << py(t) << "\" class=\"grid\"/><text x=\"" << kLeft - 6 << "\" y=\"" << py(t) + 4
      << "\" class=\"ya\">" << num(t) << "</text>\n";
  }
  for (double t : ticks(x0, x1)) {
    o << "<text x=\"" << px(t) << "\" y=\"" << kTop + kH + 16 << "\" class=\"xa\">" << num(t, 6)
      << "</text>\n";
  }
  o << "<text x=\"" << kLeft + kW / 2 << "\" y=\"" << kTop + kH + 34 << "\" class=\"xa\">step</text>\n";
  o << "<text transform=\"translate(14," << kTop + kH / 2 << ") rotate(-90)\" class=\"xa\">"
    << esc(y_label) << "</text>\n";
  o << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kW << "\" height=\"" << kH
    << "\" class=\"frame\"/>\n";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* color = kPalette[k % 10];
    o << "<polyline class=\"series\" data-name=\"" << esc(s.name) << "\" fill=\"none\" stroke=\""
      << color << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) o << num(px(s.x[i]), 6) << "," << num(py(s.y[i]), 6) << " ";
    o << "\"/>\n";
    if (s.x.size() == 1)
      o << "<circle cx=\"" << px(s.x[0]) << "\" cy=\"" << py(s.y[0]) << "\" r=\"3\" fill=\""
        << color << "\"/>\n";
    if (series.size() > 1)
      o << "<text x=\"" << kLeft + kW - 4 << "\" y=\"" << kTop + 14 + 14 * k << "\" class=\"legend\" style=\"fill:"
        << color << "\">" << esc(s.name) << "</text>\n";
  }
  o << "</svg></figure>\n";
  return o.str();
}

// rows = logged steps (x axis), cols = experts (y axis); value in [0, 1].
std::string heatmap(const std::string& title, const std::vector<double>& steps,
                    const std::vector<std::vector<double>>& load) {
  if (load.empty() || load[0].empty()) return "";
  const std::size_t T = load.size(), E = load[0].size();
  const double cw = kW / T, ch = std::max(4.0, std::min(18.0, kH / E));
  double vmax = 0;
  for (const auto& r : load)
    for (double v : r) vmax = std::max(vmax, v);
  if (vmax <= 0) vmax = 1;
  std::ostringstream o;
  const double h = kTop + ch * E + kBottom;
  o << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"heatmap\" width=\""
    << kLeft + kW + kRight << "\" height=\"" << h << "\" aria-label=\"" << esc(title) << "\">\n<title>"
    << esc(title) << "</title>\n<text x=\"" << kLeft << "\" y=\"18\" class=\"t\">" << esc(title)
    << " (max " << num(vmax, 3) << ", uniform " << num(1.0 / E, 3) << ")</text>\n";
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t e = 0; e < E && e < load[t].size(); ++e) {
      const double v = load[t][e] / vmax;
      // white -> dark blue
      const int r = static_cast<int>(255 - v * 225), g = static_cast<int>(255 - v * 170),
                b = static_cast<int>(255 - v * 75);
      o << "<rect class=\"cell\" x=\"" << num(kLeft + t * cw, 6) << "\" y=\"" << num(kTop + e * ch, 6)
        << "\" width=\"" << num(cw + 0.3, 6) << "\" height=\"" << num(ch, 6) << "\" fill=\"rgb(" << r
        << "," << g << "," << b << ")\"><title>step " << num(steps[t], 8) << ", expert " << e << ": "
        << num(load[t][e], 3) << "</title></rect>\n";
    }
  }
  for (std::size_t e = 0; e < E; e += std::max<std::size_t>(1, E / 8))
    o << "<text x=\"" << kLeft - 6 << "\" y=\"" << kTop + e * ch + ch * 0.75 << "\" class=\"ya\">e" << e
      << "</text>\n";
  o << "<text x=\"" << kLeft << "\" y=\"" << kTop + ch * E + 16 << "\" class=\"xa0\">step "
    << num(steps.front(), 8) << "</text><text x=\"" << kLeft + kW << "\" y=\"" << kTop + ch * E + 16
    << "\" class=\"ya\">step " << num(steps.back(), 8) << "</text>\n</svg></figure>\n";
  return o.str();
}

std::string bars(const std::string& title, const std::vector<std::pair<std::string, double>>& items) {
  if (items.empty()) return "";
  double vmax = 0;
  for (const auto& [k, v] : items) vmax = std::max(vmax, v);
  if (vmax <= 0) vmax = 1;
  const double bh = 14, gap = 3, label = 70, width = 480;
  const double h = kTop + items.size() * (bh + gap) + 10;
  std::ostringstream o;
  o << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"bars\" width=\""
    << label + width + 80 << "\" height=\"" << h << "\" aria-label=\"" << esc(title) << "\">\n<title>"
    << esc(title) << "</title>\n<text x=\"4\" y=\"18\" class=\"t\">" << esc(title) << "</text>\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const double y = kTop + i * (bh + gap);
    const double w = items[i].second / vmax * width;
    o << "<text x=\"" << label - 6 << "\" y=\"" << y + bh - 3 << "\" class=\"ya\">" << esc(items[i].first)
      << "</text><rect class=\"bar\" x=\"" << label << "\" y=\"" << y << "\" width=\"" << num(w, 6)
      << "\" height=\"" << bh << "\" fill=\"#1f77b4\"/><text x=\"" << label + w + 4 << "\" y=\""
      << y + bh - 3 << "\" class=\"v\">" << num(items[i].second, 3) << "</text>\n";
  }
  o << "</svg></figure>\n";
  return o.str();
}

double get(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

std::string render_report(const std::string& text, const std::string& title) {
  std::vector<Json> train, dev;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    // A hand-edited or damaged record (a step that is no number, a type that
    // is no string) is skipped like a line that is no JSON.
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    const auto type = j.find("type");
    if (type != j.end() && !type->is_string()) continue;
    (type != j.end() && *type == "dev" ? dev : train).push_back(std::move(j));
  }

  Series loss{"train loss"}, nll{"train nll"}, dev_loss{"dev loss"}, lr{"learning rate"},
      tps{"tokens/s"}, aux{"aux loss"}, bleu{"dev BLEU"}, chrf{"dev chrF"};
  std::vector<std::string> moe_layers;
  std::vector<double> load_steps;
  std::vector<std::vector<std::vector<double>>> loads;  // [layer][t][e]
  std::vector<Series> dropped;
  bool aux_is_sum = false;  // a record that does not say how many MoE layers its aux adds up
  for (const auto& j : train) {
    const double s = get(j, "step");
    for (auto [series, key] : {std::pair{&loss, "loss"}, {&nll, "nll"}, {&lr, "lr"},
                               {&tps, "tokens_per_s"}}) {
      const double v = get(j, key);
      if (std::isfinite(v)) series->x.push_back(s), series->y.push_back(v);
    }
    // "aux" is the sum over MoE layers (what the loss adds); each layer's is
    // 1.0 when its routing is uniform, so the mean over layers reads on that scale.
    const double aux_sum = get(j, "aux");
    if (std::isfinite(aux_sum)) {
      std::size_t layers = 0;
      for (const char* key : {"moe_layers", "expert_load"})
        if (layers == 0 && j.contains(key) && j[key].is_array()) layers = j[key].size();
      aux_is_sum |= layers == 0;
      aux.x.push_back(s), aux.y.push_back(layers > 0 ? aux_sum / static_cast<double>(layers) : aux_sum);
    }
    if (j.contains("moe_layers") && j["moe_layers"].is_array() && moe_layers.empty())
      for (const auto& n : j["moe_layers"]) moe_layers.push_back(n.is_string() ? n.get<std::string>() : "");
    if (j.contains("expert_load") && j["expert_load"].is_array()) {
      const auto& el = j["expert_load"];
      if (loads.size() < el.size()) loads.resize(el.size());
      load_steps.push_back(s);
      for (std::size_t l = 0; l < el.size(); ++l) {
        std::vector<double> row;
        if (el[l].is_array())
          for (const auto& v : el[l]) row.push_back(v.is_number() ? v.get<double>() : 0.0);
        loads[l].push_back(std::move(row));
      }
    }
    if (j.contains("dropped") && j["dropped"].is_array()) {
      const auto& d = j["dropped"];
      if (dropped.size() < d.size()) dropped.resize(d.size());
      for (std::size_t l = 0; l < d.size(); ++l) {
        if (!d[l].is_number()) continue;
        dropped[l].x.push_back(s);
        dropped[l].y.push_back(d[l].get<double>());
      }
    }
  }
  for (const auto& j : dev) {
    const double s = get(j, "step");
    for (auto [series, key] : {std::pair{&dev_loss, "loss"}, {&bleu, "bleu"}, {&chrf, "chrf"}}) {
      const double v = get(j, key);
      if (std::isfinite(v)) series->x.push_back(s), series->y.push_back(v);
    }
  }
  auto layer_name = [&](std::size_t l) {
    return l < moe_layers.size() && !moe_layers[l].empty() ? moe_layers[l]
                                                           : "MoE layer " + std::to_string(l);
  };
  for (std::size_t l = 0; l < dropped.size(); ++l) dropped[l].name = layer_name(l);

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << esc(title)
    << "</title>\n<style>\nbody{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1300px}\n"
       "h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}\n"
       ".grid-2{display:flex;flex-wrap:wrap;gap:8px}.chart{margin:0}\n"
       "svg text{font:11px system-ui,sans-serif;fill:#444}svg .t{font-size:13px;fill:#222}\n"
       "svg .ya{text-anchor:end}svg .xa{text-anchor:middle}svg .legend{text-anchor:end}\n"
       "svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#bbb}\n"
       "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}\n"
       "</style></head><body>\n<h1>"
    << esc(title) << "</h1>\n";
  o << "<p>" << train.size() << " training records";
  if (!train.empty()) o << " (steps " << num(get(train.front(), "step"), 8) << "–" << num(get(train.back(), "step"), 8) << ")";
  o << ", " << dev.size() << " validations.</p>\n";

  o << "<h2>Loss</h2>\n<div class=\"grid-2\">\n";
  std::vector<Series> losses;
  for (Series* s : {&loss, &nll, &dev_loss})
    if (!s->x.empty()) losses.push_back(*s);
  o << line_chart("Loss (label-smoothed train, NLL, dev)", losses, "loss");
  // One scored validation (a run validated by loss that decoded only at its
  // end) is no curve: its numbers head the per-language bars instead.
  if (bleu.x.size() >= 2 || chrf.x.size() >= 2) {
    std::vector<Series> q;
    for (Series* s : {&bleu, &chrf})
      if (!s->x.empty()) q.push_back(*s);
    o << line_chart("Dev BLEU / chrF", q, "score");
  }
  o << "</div>\n<h2>Optimisation</h2>\n<div class=\"grid-2\">\n";
  if (!lr.x.empty()) o << line_chart("Learning rate", {lr}, "lr");
  if (!tps.x.empty()) o << line_chart("Throughput", {tps}, "target tokens/s");
  if (!aux.x.empty())
    o << line_chart(aux_is_sum ? "Auxiliary load-balancing loss (sum over MoE layers)"
                               : "Auxiliary load-balancing loss, mean over MoE layers (1.0 = uniform)",
                    {aux}, "aux");
  o << "</div>\n";

  if (!loads.empty()) {
    o << "<h2>Experts</h2>\n<p>Share of each layer's tokens whose first choice is each expert, over "
         "training (darker = more load).</p>\n<div class=\"grid-2\">\n";
    for (std::size_t l = 0; l < loads.size(); ++l)
      o << heatmap("Expert load: " + layer_name(l), load_steps, loads[l]);
    o << "</div>\n";
    if (!dropped.empty()) o << line_chart("Fraction of tokens dropped (over capacity)", dropped, "fraction");
  }

  if (!dev.empty()) {
    const Json& last = dev.back();
    if (last.contains("per_lang") && last["per_lang"].is_object()) {
      // BLEU when the validation decoded; otherwise the teacher-forced dev loss.
      bool have_bleu = false;
      for (const auto& [lang, v] : last["per_lang"].items()) have_bleu |= v.is_object() && std::isfinite(get(v, "bleu"));
      const char* key = have_bleu ? "bleu" : "loss";
      std::vector<std::pair<std::string, double>> items;
      for (const auto& [lang, v] : last["per_lang"].items()) {
        const double x = v.is_object() ? get(v, key) : NAN;
        if (std::isfinite(x)) items.emplace_back(lang, x);
      }
      std::sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
        return have_bleu ? a.second > b.second : a.second < b.second;  // best first
      });
      if (!items.empty()) {
        o << "<h2>Per-language " << (have_bleu ? "BLEU" : "dev loss") << " at step " << num(get(last, "step"), 8)
          << "</h2>\n";
        if (have_bleu && std::isfinite(get(last, "bleu")) && std::isfinite(get(last, "chrf")))
          o << "<p>Macro average over " << items.size() << " languages: BLEU " << num(get(last, "bleu"), 3)
            << ", chrF " << num(get(last, "chrf"), 3) << ".</p>\n";
        o << bars(have_bleu ? "Dev BLEU by source language" : "Dev loss (NLL) by source language, lowest first",
                  items);
      }
    }
  }
  o << "</body></html>\n";
  return o.str();
}

void write_report(const std::string& run_dir, const std::string& title) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in) throw FileError(path, 0, "cannot read the metrics log");
  std::stringstream ss;
  ss << in.rdbuf();
  write_file_atomically(run_dir + "/report.html", render_report(ss.str(), title));
}

}  // namespace moe::train
