#include "train/report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace moe::train {
namespace {
namespace fs = std::filesystem;

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Two MoE layers of 4 experts logged at 3 steps, two validations over 3 languages,
// and one truncated last line as a killed run leaves it.
std::string sample_metrics() {
  std::ostringstream o;
  for (int s = 1; s <= 3; ++s) {
    o << R"({"type":"train","step":)" << s * 100 << R"(,"loss":)" << 9.0 - s << R"(,"nll":)"
      << 8.5 - s << R"(,"aux":1.)" << s << R"(,"lr":0.01,"tokens_per_s":)" << 1000 * s
      << R"(,"moe_layers":["encoder.1","decoder.1"],"expert_load":[[0.4,0.3,0.2,0.1],[0.25,0.25,0.25,0.25]],"dropped":[0.0)"
      << s << R"(,0.01]})" << "\n";
  }
  o << R"({"type":"dev","step":200,"loss":6.5,"bleu":3.5,"chrf":20.1,"per_lang":{"de":{"bleu":4.0},"sw":{"bleu":1.5},"fr":{"bleu":5.25}}})"
    << "\n";
  o << R"({"type":"dev","step":300,"loss":6.0,"bleu":5.5,"chrf":24.0,"per_lang":{"de":{"bleu":6.0},"sw":{"bleu":2.5},"fr":{"bleu":8.0}}})"
    << "\n";
  o << R"({"type":"train","step":400,"loss":5.)";  // cut off mid-write
  return o.str();
}

TEST(Report, HasEveryChartAndNoExternalResources) {
  const std::string html = render_report(sample_metrics(), "run <tiny>");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>run &lt;tiny&gt;</title>"), std::string::npos);  // escaped
  EXPECT_NE(html.find("3 training records"), std::string::npos);               // bad line skipped
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "<link"), 0u);
  // Only the SVG namespace URI may mention http: nothing is fetched.
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  for (const char* t : {"Loss (label-smoothed", "Dev BLEU / chrF", "Learning rate", "Throughput",
                        "Auxiliary load-balancing loss", "Expert load: encoder.1",
                        "Expert load: decoder.1", "Fraction of tokens dropped",
                        "Dev BLEU by source language"})
    EXPECT_NE(html.find(t), std::string::npos) << t;
  EXPECT_EQ(count(html, "class=\"heatmap\""), 2u);
  EXPECT_EQ(count(html, "class=\"cell\""), 2u * 3u * 4u);  // layers x steps x experts
  EXPECT_EQ(count(html, "class=\"bar\""), 3u);             // languages of the last validation
  // Bars are sorted best first: fr (8.0) before de (6.0) before sw (2.5).
  EXPECT_LT(html.find(">fr<"), html.find(">de<"));
  EXPECT_LT(html.find(">de<"), html.find(">sw<"));
  EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
}

// "aux" in the log is the sum over MoE layers; the chart shows the mean, on
// the scale where uniform routing is 1.0 (the sample's sums 1.1-1.3 over 2 layers).
TEST(Report, TheAuxLossChartIsTheMeanOverMoeLayers) {
  const std::string html = render_report(sample_metrics(), "aux");
  const std::size_t begin = html.find("Auxiliary load-balancing loss, mean over MoE layers (1.0 = uniform)");
  ASSERT_NE(begin, std::string::npos);
  const std::string chart = html.substr(begin, html.find("</svg>", begin) - begin);
  EXPECT_NE(chart.find(">0.6</text>"), std::string::npos) << chart;   // a tick of 0.55-0.65
  EXPECT_EQ(chart.find(">1.2</text>"), std::string::npos) << chart;   // none of 1.1-1.3
  // Without the layers the sum is plotted, and the title says so.
  const std::string bare = render_report(R"({"type":"train","step":1,"aux":2.5})", "aux");
  EXPECT_NE(bare.find("Auxiliary load-balancing loss (sum over MoE layers)"), std::string::npos);
}

// A run validated by loss that decoded only at its last validation
// (eval.final_decode): one BLEU point is no curve, so the bars are headed by
// its macro averages instead of a one-point chart.
TEST(Report, OneScoredValidationHeadsTheBarsWithItsAverages) {
  std::ostringstream o;
  o << R"({"type":"train","step":10,"loss":7.0,"nll":6.5,"aux":1.1,"lr":0.01,"tokens_per_s":1000})" << "\n";
  o << R"({"type":"dev","step":10,"loss":6.5,"per_lang":{"de":{"loss":6.0},"sw":{"loss":7.0}}})" << "\n";
  o << R"({"type":"dev","step":15,"loss":6.25,"bleu":4.6648,"chrf":14.08,"per_lang":{"de":{"loss":5.5,"bleu":6.0},"sw":{"loss":7.0,"bleu":3.3296}}})"
    << "\n";
  const std::string html = render_report(o.str(), "final decode");
  EXPECT_EQ(html.find("Dev BLEU / chrF"), std::string::npos);
  EXPECT_NE(html.find("Per-language BLEU at step 15"), std::string::npos);
  EXPECT_NE(html.find("Macro average over 2 languages: BLEU 4.66, chrF 14.1."), std::string::npos);
  EXPECT_EQ(count(html, "class=\"bar\""), 2u);
}

TEST(Report, EmptyLogStillRendersAPage) {
  const std::string html = render_report("", "empty");
  EXPECT_NE(html.find("0 training records"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

// Opens the report in Debian's chromium and checks that the browser parsed
// every chart (its serialised DOM has the same SVG elements).
TEST(Report, RendersInHeadlessChromium) {
  const char* candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
  std::string chromium;
  for (const char* c : candidates)
    if (fs::exists(c)) chromium = c;
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed";

  const fs::path dir = fs::temp_directory_path() / ("moe-report-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.jsonl") << sample_metrics();
  write_report(dir.string(), "browser check");
  const std::string dom = (dir / "dom.html").string();
  const std::string cmd = "timeout 60 " + chromium +
                          " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                          " --disable-background-networking --disable-component-update --disable-sync"
                          " --user-data-dir=" + (dir / "profile").string() +
                          " --dump-dom file://" + (dir / "report.html").string() + " >" + dom +
                          " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dom);
  const std::string out((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(count(out, "<svg"), count(render_report(sample_metrics(), "browser check"), "<svg"));
  EXPECT_EQ(count(out, "class=\"cell\""), 24u);
  EXPECT_NE(out.find("Dev BLEU by source language"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moe::train
