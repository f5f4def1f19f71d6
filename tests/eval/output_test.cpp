// sacreBLEU's number formatting, text and JSON layout (METRICS.md §5), and the
// per-language report.
#include "eval/output.h"

#include <gtest/gtest.h>

namespace moe::eval {
namespace {

MetricResult result(const std::string& name, double score, const std::string& verbose = "") {
  MetricResult r;
  r.name = name;
  r.score = score;
  r.signature = make_signature(1, {}, {{"case", "c", "mixed"}});
  r.verbose = verbose;
  return r;
}

TEST(PythonFloatRepr, MatchesPythonRepr) {
  EXPECT_EQ(python_float_repr(100.0), "100.0");
  EXPECT_EQ(python_float_repr(0.0), "0.0");
  EXPECT_EQ(python_float_repr(12.154), "12.154");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
}

TEST(Rounding, ScoreIsRoundedDecimallyThenReparsed) {
  EXPECT_EQ(format_fixed(57.84, 1), "57.8");
  EXPECT_EQ(format_fixed(0.125, 2), "0.12");  // exactly representable: half to even
  EXPECT_EQ(format_fixed(2.675, 2), "2.67");  // 2.67499999... in binary
  EXPECT_EQ(format_fixed(1e300, 300).size(), 602u);  // no buffer limit, as in Python
  EXPECT_EQ(python_float_repr(round_to_width(57.8347, 4)), "57.8347");
  EXPECT_EQ(python_float_repr(round_to_width(57.8300, 4)), "57.83");
}

TEST(TextOutput, AlignsTheEqualsSignsAndAppendsVerbose) {
  const std::string text = format_text({result("BLEU", 57.84, "v"), result("TER", 3.0)}, {});
  const std::string sig = make_signature(1, {}, {{"case", "c", "mixed"}}).format();
  EXPECT_EQ(text, "BLEU|" + sig + " = 57.8 v\n TER|" + sig + " = 3.0\n");
  EXPECT_EQ(format_text({result("BLEU", 57.84)}, {.width = 1, .score_only = true}), "57.8\n");
}

TEST(TextOutput, ConfidenceGoesBetweenScoreAndVerbose) {
  MetricResult r = result("BLEU", 52.5, "p");
  r.confidence = ConfidenceInterval{52.46, 5.31};
  EXPECT_NE(format_text_line(r, {}).find(" = 52.5 (\u03bc = 52.5 \u00b1 5.3) p"), std::string::npos);
}

TEST(TextOutput, ZeroBootstrapMeanPrintsNoConfidence) {
  // sacreBLEU's Score.format: `if self._mean > 0`, so a metric whose every resample
  // scores 0 prints its plain score (the bs:/seed: signature keys stay).
  MetricResult r = result("BLEU", 0.0, "p");
  r.confidence = ConfidenceInterval{0.0, 0.0};
  EXPECT_FALSE(shows_confidence(r));
  EXPECT_EQ(format_text_line(r, {}).substr(format_text_line(r, {}).find(" = ")), " = 0.0 p");
  EXPECT_EQ(format_score(r, 1), "0.0");
  const std::string json = format_json({r}, {});
  EXPECT_EQ(json.find("confidence"), std::string::npos) << json;
  r.confidence->mean = 0.01;
  EXPECT_NE(format_json({r}, {}).find("\"confidence_mean\": 0.0,"), std::string::npos);
}

TEST(TextOutput, ScoreOnlyKeepsTheConfidenceAndAlignsOnItsEqualsSign) {
  // Score.format returns `sc`, the score with its "(μ = ...)" part, for -b.
  MetricResult bleu = result("BLEU", 100.0);
  bleu.confidence = ConfidenceInterval{99.5, 0.5};
  MetricResult chrf = result("chrF2", 5.0);
  chrf.confidence = ConfidenceInterval{5.1, 0.1};
  const OutputOptions score_only{.width = 1, .score_only = true};
  EXPECT_EQ(format_text({bleu}, score_only), "100.0 (\u03bc = 99.5 \u00b1 0.5)\n");
  // print_single_results right-aligns what precedes each line's first '=' (in code points).
  EXPECT_EQ(format_text({bleu, chrf}, score_only),
            "100.0 (\u03bc = 99.5 \u00b1 0.5)\n  5.0 (\u03bc = 5.1 \u00b1 0.1)\n");
  // A line without '=' (zero mean: no μ part) is printed first, as sacreBLEU does.
  MetricResult ter = result("TER", 0.0);
  ter.confidence = ConfidenceInterval{0.0, 0.0};
  EXPECT_EQ(format_text({bleu, ter}, score_only), "0.0\n100.0 (\u03bc = 99.5 \u00b1 0.5)\n");
  EXPECT_EQ(format_text({ter, bleu}, score_only), "0.0\n100.0 (\u03bc = 99.5 \u00b1 0.5)\n");
  // JSON -b: the same strings in sacreBLEU's bracketed list (not JSON strings).
  EXPECT_EQ(format_json({bleu, ter}, score_only), "[\n100.0 (\u03bc = 99.5 \u00b1 0.5),\n0.0\n]\n");
}

TEST(PythonStringRepr, QuotesAsPython) {
  EXPECT_EQ(python_string_repr("sys.txt"), "'sys.txt'");
  EXPECT_EQ(python_string_repr("it's"), "\"it's\"");
  EXPECT_EQ(python_string_repr("a'b\"c\\"), "'a\\'b\"c\\\\'");
  EXPECT_EQ(python_string_repr("t\tn\n\x01\u03bc"), "'t\\tn\\n\\x01\u03bc'");
}

TEST(JsonOutput, OneObjectWithSignatureFieldsRepeated) {
  const std::string json = format_json({result("BLEU", 57.84, "86.5/70.0")}, {});
  const std::string sig = make_signature(1, {}, {{"case", "c", "mixed"}}).format();
  EXPECT_EQ(json, "{\n \"name\": \"BLEU\",\n \"score\": 57.8,\n \"signature\": \"" + sig +
                      "\",\n \"verbose_score\": \"86.5/70.0\",\n \"nrefs\": \"1\",\n"
                      " \"case\": \"mixed\",\n \"version\": \"" +
                      sig.substr(sig.rfind(':') + 1) + "\"\n}\n");
}

TEST(JsonOutput, SeveralMetricsAreABracketedList) {
  const std::string json = format_json({result("BLEU", 100.0), result("TER", 0.0)}, {.score_only = true});
  EXPECT_EQ(json, "[\n100.0,\n0.0\n]\n");
  const std::string full = format_json({result("BLEU", 1.0), result("TER", 0.0)}, {});
  EXPECT_EQ(full.substr(0, 4), "[\n{\n");
  EXPECT_NE(full.find("\n},\n{\n"), std::string::npos);
  EXPECT_EQ(full.substr(full.size() - 4), "}\n]\n");
}

TEST(JsonString, EscapesQuotesAndControlsKeepsUnicode) {
  EXPECT_EQ(json_string("a\"b\\c\n\x01\u03bc"), "\"a\\\"b\\\\c\\n\\u0001\u03bc\"");
}

TEST(LanguageReport, ScoresEachLanguageFromItsOwnSegmentsAndMacroAverages) {
  MetricStatistics m;
  m.name = "mean";
  m.table.width = 2;
  m.table.values = {1, 1, 0, 1, 1, 1, 1, 1};  // segment values 1, 0, 1, 1
  m.score = [](std::span<const double> sums) { return 100.0 * sums[0] / sums[1]; };
  const LanguageReport report = build_language_report({"fr", "de", "fr", "de"}, {&m});
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_EQ(report.rows[0].language, "de");  // sorted by code
  EXPECT_DOUBLE_EQ(report.rows[0].scores[0], 50.0);   // segments 1 and 3: (0 + 1) / 2
  EXPECT_DOUBLE_EQ(report.rows[1].scores[0], 100.0);  // segments 0 and 2
  EXPECT_DOUBLE_EQ(report.macro_average[0], 75.0);
  const std::string table = format_language_table(report, 1);
  EXPECT_EQ(table,
            "lang       segments   mean\n"
            "de                2   50.0\n"
            "fr                2  100.0\n"
            "--------------------------\n"
            "macro-avg   2 langs   75.0\n");
  const std::string json = language_report_json(report, 1, 1);
  EXPECT_NE(json.find("\"lang\": \"fr\",\n   \"segments\": 2,\n   \"mean\": 100.0"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"macro_average\": {\n  \"languages\": 2,\n  \"mean\": 75.0\n }"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace moe::eval
