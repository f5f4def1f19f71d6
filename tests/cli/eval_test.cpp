// End-to-end tests of moe-eval. Every expected number is derived by hand from
// docs METRICS.md (sacreBLEU 2.6's definition); derivations are in the comments.
//
// Data (tests/data_files/eval/):
//   ref.en  "the cat sat on the mat" / "It rained in 2019."
//   hyp.en  "the cat sat on a mat"   / "It rained in 2019."
// 13a tokens: segment 1 has 6 and 6 tokens; segment 2 is "It rained in 2019 ." on
// both sides (the final period splits off thanks to 13a's padding).
//   segment 1 matches: 1-grams 5/6 (one "the" clipped), 2-grams 3/5, 3-grams 2/4, 4-grams 1/3
//   segment 2 matches: 5/5, 4/4, 3/3, 2/2
//   corpus sums: correct [10,7,5,3], total [11,9,7,5], hyp_len = ref_len = 11, BP = 1
//   BLEU = 100 * (10/11 * 7/9 * 5/7 * 3/5)^(1/4) = 74.19446627 -> "74.1945" (-w 4)
//   precisions 90.9/77.8/71.4/60.0
//   segment 1 alone: 100 * (5/6 * 3/5 * 2/4 * 1/3)^(1/4) = 100 * 12^(-1/4) = 53.7285
//   TER (lowercased words, punctuation kept): 1 substitution in segment 1, 0 in
//   segment 2; reference words 6 + 4 = 10 -> 100 * 1/10 = 10.0000
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cli/run_command.h"
#include "util/version.h"

namespace moe::test {
namespace {

std::string data(const std::string& name) {
  return shell_quote(std::string(MOE_TEST_DATA_DIR) + "/eval/" + name);
}

CommandResult eval(const std::string& args, const std::string& stdin_text = "") {
  return run_app("moe-eval", args, stdin_text);
}

std::string version() { return moe::kVersion; }

void expect_one_line_error(const CommandResult& r, const std::string& needle, int code = 1) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

CommandResult eval_redirected(const std::string& args_and_redirections) {
  return run_app_redirected("moe-eval", args_and_redirections);
}

TEST(MoeEvalCli, BleuTextLineMatchesHandDerivation) {
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " -f text -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" + version() +
                       " = 74.1945 90.9/77.8/71.4/60.0 (BP = 1.000 ratio = 1.000 hyp_len = 11"
                       " ref_len = 11)\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(MoeEvalCli, JsonIsTheDefaultWithOneDecimal) {
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\n \"name\": \"BLEU\",\n \"score\": 74.2,\n \"signature\": "
                   "\"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" + version() +
                       "\",\n \"verbose_score\": \"90.9/77.8/71.4/60.0 (BP = 1.000 ratio = 1.000 "
                       "hyp_len = 11 ref_len = 11)\",\n \"nrefs\": \"1\",\n \"case\": \"mixed\",\n"
                       " \"eff\": \"no\",\n \"tok\": \"13a\",\n \"smooth\": \"exp\",\n"
                       " \"version\": \"" + version() + "\"\n}\n");
}

TEST(MoeEvalCli, SeveralMetricsPrintInBleuChrfTerOrderAligned) {
  // chrF on chrf_hyp/chrf_ref ("ab c" vs "abd"): chars "abc" vs "abd": order 1 2/3,
  // order 2 1/2, order 3 0/1, orders 4-6 absent: P = R = 7/18 -> 38.8889.
  // TER on the same pair: "ab c" is two words, "abd" one: 1 substitution + 1
  // deletion = 2 edits over 1 reference word = 200.0000 (TER can exceed 100).
  const CommandResult r = eval(data("chrf_ref.txt") + " -i " + data("chrf_hyp.txt") +
                               " -m ter chrf -f text -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string chrf_sig = "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" + version();
  const std::string ter_sig = "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:" + version();
  const std::string chrf_head = "chrF2|" + chrf_sig, ter_head = "TER|" + ter_sig;
  const std::size_t width = std::max(chrf_head.size(), ter_head.size());
  EXPECT_EQ(r.out, std::string(width - chrf_head.size(), ' ') + chrf_head + " = 38.8889\n" +
                       std::string(width - ter_head.size(), ' ') + ter_head + " = 200.0000\n");
}

TEST(MoeEvalCli, TerShiftCostsOneEdit) {
  // "b c a" vs "a b c": one shift of "a" and no other edit: 1/3 -> 33.3333.
  const CommandResult r = eval(data("shift_ref.txt") + " -i " + data("shift_hyp.txt") +
                               " -m ter -b -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "33.3333\n");
  const CommandResult corpus = eval(data("ref.en") + " -i " + data("hyp.en") + " -m ter -b -w 4");
  EXPECT_EQ(corpus.out, "10.0000\n");
}

TEST(MoeEvalCli, ReadsTheHypothesisFromStdin) {
  const CommandResult r = eval(data("ref.en") + " -b -w 4",
                               "the cat sat on a mat\nIt rained in 2019.\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "74.1945\n");
}

TEST(MoeEvalCli, SingleDashLongOptionsWorkAsInSacrebleu) {
  for (const char* spelling : {"-tok intl", "-tok=intl", "--tokenize intl", "--tokenize=intl"}) {
    const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " " + spelling +
                                 " -lc -sh -f text");
    ASSERT_EQ(r.exit_code, 0) << spelling << ": " << r.err;
    const std::string head = "BLEU|#:1|c:lc|e:no|tok:intl|s:exp|v:" + version() + " = ";
    EXPECT_EQ(r.out.substr(0, head.size()), head) << spelling;
  }
  const CommandResult sv = eval(data("ref.en") + " -i " + data("hyp.en") +
                                " -s floor -sv 0.5 -f text");
  EXPECT_NE(sv.out.find("|smooth:floor[0.50]|"), std::string::npos) << sv.out << sv.err;
}

TEST(MoeEvalCli, SentenceLevelPrintsOneLinePerSegment) {
  // Segment 1: all four orders present, so effective order changes nothing: 53.7285.
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " -sl -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sig = "BLEU|nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:" + version();
  EXPECT_EQ(r.out, sig + " = 53.7285 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)\n" +
                       sig + " = 100.0000 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)\n");
}

TEST(MoeEvalCli, TabSeparatedReferencesWithNumRefs) {
  // refs2.tsv adds "the cat was on a mat" / "In 2019 it rained." as second references.
  // Segment 1 now matches 6/6, 5/5, 3/4 ("sat on a" is in neither), 1/3; segment 2
  // is perfect: sums correct [11,9,6,3], total [11,9,7,5]:
  // 100 * (6/7 * 3/5)^(1/4) = 84.6840.
  const CommandResult r = eval(data("refs2.tsv") + " -nr 2 -i " + data("hyp.en") + " -b -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "84.6840\n");
  const CommandResult sig = eval(data("refs2.tsv") + " -nr 2 -i " + data("hyp.en") + " -f text");
  EXPECT_EQ(sig.out.substr(0, 13), "BLEU|nrefs:2|");
}

TEST(MoeEvalCli, NumRefsStripsTheLineButNotItsFields) {
  // sacreBLEU: line.rstrip().split('\t', 1), and chrF does not strip a segment, so
  // "a b \tzz" gives the references "a b " (trailing space kept) and "zz". With
  // --chrf-whitespace, "a b" against "a b " is 115/167 (tests/eval/chrf_test.cpp's
  // derivation); "zz" scores 0, so the first reference is kept.
  const std::string dir = temp_dir();
  const std::string refs = shell_quote(write_file(dir, "refs", "a b \tzz\n"));
  const CommandResult r = eval(refs + " -nr 2 -m chrf --chrf-whitespace -b -w 6", "a b\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "68.862275\n");
  // The rstrip removes a trailing tab, and with it the second field: exit 17.
  expect_one_line_error(eval(shell_quote(write_file(dir, "tab", "a b\t\n")) + " -nr 2", "a b\n"),
                        "tab:1: expected 2 tab-separated references, found 1", 17);
}

TEST(MoeEvalCli, HypothesisAndReferenceLinesAreRightStripped) {
  // Trailing spaces, CR and U+3000 go when a line is read, so chrF with whitespace
  // sees "a b" on both sides: 100.
  const std::string dir = temp_dir();
  const std::string ref = shell_quote(write_file(dir, "ref", "a b \r\n"));
  const CommandResult r = eval(ref + " -m chrf --chrf-whitespace -b", "a b\u3000 \n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "100.0\n");
  const std::string tsv = shell_quote(write_file(dir, "set.tsv", "de\tsrc\ta b \r\n"));
  const CommandResult t = eval("--tsv " + tsv + " -m chrf --chrf-whitespace -b", "a b \n");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out, "100.0\n");
}

TEST(MoeEvalCli, ChrfIsBitExactAtFullPrecision) {
  // hyp "baaaa" vs ref "b", beta 3: 100 * (2 / (9 * 0.2 + 1)) in Python is
  // 71.42857142857143060 at 17 decimals; a fused 9 * 0.2 + 1 gives ...41639.
  const std::string ref = shell_quote(write_file(temp_dir(), "ref", "b\n"));
  const CommandResult r = eval(ref + " -m chrf --chrf-beta 3 -sl -b -w 17", "baaaa\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "71.42857142857143060\n");
}

TEST(MoeEvalCli, HugeSmoothingValueInTheSignatureHasAllItsDigits) {
  // Python's '%.2f' % 1e70.
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " -s floor -sv 1e70 -f text");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("|smooth:floor[10000000000000000725314363815292351261583744096465219555182101554790400.00]|"),
            std::string::npos)
      << r.out;
}

TEST(MoeEvalCli, PerLanguageTableFromLangsFile) {
  // de = segment 1 alone (53.7285), fr = segment 2 (100.0); macro (53.7285 + 100) / 2.
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " --langs " +
                               data("langs.txt") + " -f text -w 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" = 74.1945 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nde                1   53.7285\nfr                1  100.0000\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nmacro-avg   2 langs   76.8642\n"), std::string::npos) << r.out;
}

TEST(MoeEvalCli, TsvTestSetGivesReferencesAndLanguages) {
  const CommandResult text = eval("--tsv " + data("mini.tsv") + " -i " + data("hyp.en") +
                                  " -m bleu -f text -w 4");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(" = 74.1945 "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\nmacro-avg   2 langs   76.8642\n"), std::string::npos) << text.out;
  const CommandResult json = eval("--tsv " + data("mini.tsv") + " -i " + data("hyp.en") + " -w 4");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.substr(0, 28), "{\n \"corpus\": [\n  {\n   \"name\"");
  EXPECT_NE(json.out.find("\"lang\": \"de\",\n   \"segments\": 1,\n   \"BLEU\": 53.7285"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"macro_average\": {\n  \"languages\": 2,\n  \"BLEU\": 76.8642\n }\n}\n"),
            std::string::npos)
      << json.out;
}

TEST(MoeEvalCli, ConfidenceIntervalAddsResamplingToTheSignature) {
  const CommandResult r = eval(data("ref.en") + " -i " + data("hyp.en") + " -ci -cin 100 -f text");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("BLEU|nrefs:1|bs:100|seed:12345|case:mixed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" = 74.2 (\u03bc = "), std::string::npos) << r.out;
}

// The resamples are NumPy's default_rng(12345) draws, as in sacreBLEU. Reference
// numbers from tests/eval/spec_model_significance.py (spec-model statistics, NumPy
// 1.24 resampling): CI of the example 54.7087 +- 8.2772; newstest-mini.sys2.en (two
// edited lines) against it: mean 53.2468 +- 8.5121, paired-bootstrap p = 0.0859.
TEST(MoeEvalCli, ResamplingReproducesNumpysDraws) {
  const std::string ref = shell_quote(std::string(MOE_SOURCE_DIR) + "/examples/newstest-mini.ref.en");
  const std::string base = shell_quote(std::string(MOE_SOURCE_DIR) + "/examples/newstest-mini.hyp.en");
  const CommandResult ci = eval(ref + " -i " + base + " -ci -w 4 -f text");
  ASSERT_EQ(ci.exit_code, 0) << ci.err;
  EXPECT_NE(ci.out.find(" = 54.8353 (\u03bc = 54.7087 \u00b1 8.2772) "), std::string::npos) << ci.out;
  const CommandResult bs = eval(ref + " -i " + base + " " + data("newstest-mini.sys2.en") +
                                " --paired-bs -w 4 -f text");
  ASSERT_EQ(bs.exit_code, 0) << bs.err;
  EXPECT_NE(bs.out.find("53.4304 (53.2468 \u00b1 8.5121)"), std::string::npos) << bs.out;
  EXPECT_NE(bs.out.find("(p = 0.0859) "), std::string::npos) << bs.out;
}

TEST(MoeEvalCli, ConfidenceWithAZeroBootstrapMeanPrintsThePlainScore) {
  // No hypothesis word is in the reference, so BLEU and every resample are 0: sacreBLEU's
  // Score.format prints the μ part only for a mean > 0. The signature keeps bs/seed.
  const std::string dir = temp_dir();
  const std::string ref = shell_quote(write_file(dir, "ref", "a b c d\n"));
  const std::string hyp = shell_quote(write_file(dir, "hyp", "w x y z\n"));
  const CommandResult text = eval(ref + " -i " + hyp + " -ci -cin 20 -f text");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "BLEU|nrefs:1|bs:20|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:" +
                          version() +
                          " = 0.0 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)\n");
  const CommandResult json = eval(ref + " -i " + hyp + " -ci -cin 20");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find("confidence"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"bs\": \"20\""), std::string::npos) << json.out;
}

TEST(MoeEvalCli, ScoreOnlyWithConfidenceKeepsTheEstimate) {
  // Score.format(score_only=True) returns the score with its " (μ = ...)" part, in
  // text and JSON mode alike (numbers as in ResamplingReproducesNumpysDraws).
  const std::string ref = shell_quote(std::string(MOE_SOURCE_DIR) + "/examples/newstest-mini.ref.en");
  const std::string hyp = shell_quote(std::string(MOE_SOURCE_DIR) + "/examples/newstest-mini.hyp.en");
  const std::string expected = "54.8353 (\u03bc = 54.7087 \u00b1 8.2772)\n";
  EXPECT_EQ(eval(ref + " -i " + hyp + " -ci -b -w 4 -f text").out, expected);
  EXPECT_EQ(eval(ref + " -i " + hyp + " -ci -b -w 4").out, expected);
  // A perfect system: BLEU's mean is 100, TER's 0 (no μ part, no '='), and
  // print_single_results prints a line without '=' before the aligned ones.
  const CommandResult mixed = eval(data("ref.en") + " -i " + data("ref.en") +
                                   " -ci -cin 20 -b -m bleu ter -f text");
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_EQ(mixed.out, "0.0\n100.0 (\u03bc = 100.0 \u00b1 0.0)\n");
}

TEST(MoeEvalCli, ConfidenceNeedsMoreThanOneResample) {
  // corpus_score bootstraps only `if n_bootstrap > 1`: -cin 1, 0 or -5 give the plain score.
  const std::string plain = eval(data("ref.en") + " -i " + data("hyp.en") + " -f text").out;
  ASSERT_FALSE(plain.empty());
  for (const char* n : {"1", "0", "-5"}) {
    const CommandResult r =
        eval(data("ref.en") + " -i " + data("hyp.en") + " -ci -cin " + n + " -f text");
    EXPECT_EQ(r.exit_code, 0) << n << ": " << r.err;
    EXPECT_EQ(r.out, plain) << n;
  }
  // Nothing is resampled, so SACREBLEU_SEED is not read (sacreBLEU reads it only then).
  setenv("SACREBLEU_SEED", "abc", 1);
  const CommandResult unread =
      eval(data("ref.en") + " -i " + data("hyp.en") + " -ci -cin 1 -b -w 4");
  unsetenv("SACREBLEU_SEED");
  EXPECT_EQ(unread.exit_code, 0) << unread.err;
  EXPECT_EQ(unread.out, "74.1945\n");
}

TEST(MoeEvalCli, PairedSampleCountsBelowOneTakeTheDefaults) {
  // PairedTest: n_samples if n_samples > 0 else 1000 (bs) / 10000 (ar).
  const std::string systems = data("ref.en") + " -i " + data("hyp.en") + " " + data("hyp2.en");
  const CommandResult bs = eval(systems + " --paired-bs -pbsn 0 -f text");
  ASSERT_EQ(bs.exit_code, 0) << bs.err;
  EXPECT_NE(bs.out.find("BLEU|nrefs:1|bs:1000|seed:12345|"), std::string::npos) << bs.out;
  EXPECT_EQ(bs.out, eval(systems + " --paired-bs -f text").out);
  const CommandResult ar = eval(systems + " --paired-ar -parn -1 -f text");
  ASSERT_EQ(ar.exit_code, 0) << ar.err;
  EXPECT_NE(ar.out.find("BLEU|nrefs:1|ar:10000|seed:12345|"), std::string::npos) << ar.out;
}

TEST(MoeEvalCli, RepeatedSystemFilesAreSkippedOrRejectedAsInSacrebleu) {
  const std::string ref = data("ref.en");
  const std::string hyp = data("hyp.en"), hyp2 = data("hyp2.en");
  const std::string hyp_name = std::string(MOE_TEST_DATA_DIR) + "/eval/hyp.en";
  const std::string ignoring =
      "sacreBLEU: Ignoring '" + hyp_name + "' as it was also given as the baseline.\n";
  // The baseline given again is skipped with a message; one system is then too few.
  const CommandResult alone = eval(ref + " -i " + hyp + " " + hyp + " --paired-bs");
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_TRUE(alone.out.empty()) << alone.out;
  EXPECT_EQ(alone.err, ignoring + "moe-eval: error: Paired tests require multiple input systems "
                                  "given to --input (-i).\n");
  expect_one_line_error(eval(ref + " -i " + hyp + " " + hyp + " --paired-bs -q"),
                        "Paired tests require multiple input systems");
  const CommandResult skipped =
      eval(ref + " -i " + hyp + " " + hyp2 + " " + hyp + " --paired-bs -pbsn 50");
  ASSERT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_EQ(skipped.err, ignoring);
  EXPECT_EQ(skipped.out, eval(ref + " -i " + hyp + " " + hyp2 + " --paired-bs -pbsn 50").out);
  // Any other repeated name is ambiguous.
  expect_one_line_error(eval(ref + " -i " + hyp + " " + hyp2 + " " + hyp2 + " --paired-ar"),
                        "'" + std::string(MOE_TEST_DATA_DIR) +
                            "/eval/hyp2.en' already used to name a system");
  expect_one_line_error(eval(ref + " -i " + hyp + " " + hyp), "already used to name a system");
}

TEST(MoeEvalCliErrors, EmptyHypothesisFile) {
  // sacreBLEU: "Test set None contains no sentence", checked before the line counts.
  const std::string dir = temp_dir();
  const std::string empty = write_file(dir, "empty", "");
  expect_one_line_error(eval(data("ref.en") + " -i " + shell_quote(empty)),
                        empty + ": no hypotheses: the file is empty");
  expect_one_line_error(eval(shell_quote(empty) + " -i " + shell_quote(empty)),
                        empty + ": no hypotheses: the file is empty");
}

TEST(MoeEvalCli, StdinHoldsOneSystemPerTabSeparatedField) {
  // sacreBLEU: the first stdin line's fields give the systems, named "System 1", ...
  // and, in a paired test, "Baseline", "System 1", ...
  const std::string two_systems =
      "the cat sat on a mat\ta cat is on the mat\nIt rained in 2019.\tIt rained in 2019.\n";
  const CommandResult paired = eval(data("ref.en") + " --paired-bs -pbsn 50 -f text", two_systems);
  ASSERT_EQ(paired.exit_code, 0) << paired.err;
  const std::string from_files = eval(data("ref.en") + " -i " + data("hyp.en") + " " +
                                      data("hyp2.en") + " --paired-bs -pbsn 50 -f text")
                                     .out;
  // Same table once the names are swapped ("Baseline: <path>" is wider than "Baseline").
  EXPECT_NE(paired.out.find("\u2502 Baseline \u2502 74.2 ("), std::string::npos) << paired.out;
  EXPECT_NE(paired.out.find("\u2502 System 1 \u2502 59.4 ("), std::string::npos) << paired.out;
  const auto p_value = [](const std::string& out) { return out.substr(out.find("(p = "), 16); };
  EXPECT_EQ(p_value(paired.out), p_value(from_files));
  const CommandResult json = eval(data("ref.en") + " --paired-ar -parn 50", two_systems);
  EXPECT_NE(json.out.find("\"system\": \"Baseline\","), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"system\": \"System 1\","), std::string::npos) << json.out;
  // Several systems without a paired test, as with several -i files.
  expect_one_line_error(eval(data("ref.en"), two_systems), "--paired-bs or --paired-ar");
  // A later line with another number of fields: exit 17, as sacreBLEU.
  expect_one_line_error(eval(data("ref.en") + " --paired-bs", "a\tb\nc\n"),
                        "<stdin>:2: the number of tab-delimited fields differs across lines", 17);
  // The line is right-stripped first: a trailing tab leaves one system.
  EXPECT_EQ(eval(data("ref.en") + " -b -w 4", "the cat sat on a mat\t\nIt rained in 2019.\n").out,
            "74.1945\n");
  // Empty stdin is one empty line (readline() returns ""), scored as such.
  const CommandResult empty = eval(data("one_line.en") + " -b");
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "0.0\n");
}

TEST(MoeEvalCli, PairedBootstrapAndApproximateRandomization) {
  const std::string systems = " -i " + data("hyp.en") + " " + data("hyp2.en");
  const CommandResult bs = eval(data("ref.en") + systems + " --paired-bs -pbsn 200 -f text");
  ASSERT_EQ(bs.exit_code, 0) << bs.err;
  EXPECT_NE(bs.out.find("BLEU (\u03bc \u00b1 95% CI)"), std::string::npos) << bs.out;
  EXPECT_NE(bs.out.find("Baseline: "), std::string::npos) << bs.out;
  EXPECT_NE(bs.out.find("(p = 0."), std::string::npos) << bs.out;
  EXPECT_NE(bs.out.find("BLEU|nrefs:1|bs:200|seed:12345|"), std::string::npos) << bs.out;
  const CommandResult ar = eval(data("ref.en") + systems + " --paired-ar -parn 100 -m bleu chrf");
  ASSERT_EQ(ar.exit_code, 0) << ar.err;
  EXPECT_EQ(ar.out.substr(0, 15), "[\n {\n  \"system\"");
  EXPECT_NE(ar.out.find("\"chrF2\": {"), std::string::npos) << ar.out;
  EXPECT_NE(ar.out.find("\"p_value\": null"), std::string::npos) << ar.out;  // the baseline
}

TEST(MoeEvalCli, TokenizedPeriodWarningUnlessForced) {
  std::string lines;
  // 5 tokens per line, so every order has n-grams and the identical corpus scores 100.
  for (int i = 0; i < 100; ++i) lines += "a b c d .\n";
  const std::string dir = temp_dir();
  const std::string ref = shell_quote(write_file(dir, "ref", lines));
  const CommandResult warned = eval(ref + " -b", lines);
  EXPECT_EQ(warned.exit_code, 0);
  EXPECT_EQ(warned.out, "100.0\n");
  EXPECT_EQ(warned.err,
            "sacreBLEU: That's 100 lines that end in a tokenized period ('.')\n"
            "sacreBLEU: It looks like you forgot to detokenize your test data, which may hurt your score.\n"
            "sacreBLEU: If you insist your data is detokenized, or don't care, you can suppress this "
            "message with the `force` parameter.\n");
  EXPECT_TRUE(eval(ref + " -b --force", lines).err.empty());
  // -q keeps the three lines but drops their prefix, as sacreBLEU's -q does.
  EXPECT_EQ(eval(ref + " -b -q", lines).err.substr(0, 20), "That's 100 lines tha");
}

TEST(MoeEvalCliErrors, MissingFile) {
  expect_one_line_error(eval(data("ref.en") + " -i " + data("no_such_file.en")),
                        "no_such_file.en: cannot open file");
  expect_one_line_error(eval(data("no_such_ref.en") + " -i " + data("hyp.en")), "no_such_ref.en");
}

TEST(MoeEvalCliErrors, DifferentLineCounts) {
  expect_one_line_error(eval(data("one_line.en") + " -i " + data("hyp.en")),
                        "System and reference streams have different lengths");
  expect_one_line_error(eval(data("ref.en") + " " + data("one_line.en") + " -i " + data("hyp.en")),
                        "different lengths");
  expect_one_line_error(eval(data("ref.en") + " -i " + data("hyp.en") + " --langs " +
                             data("one_line.en")),
                        "1 language codes for 2 hypothesis lines");
}

TEST(MoeEvalCliErrors, InvalidUtf8NamesFileAndLine) {
  expect_one_line_error(eval(data("ref.en") + " -i " + data("bad_utf8.en")),
                        "bad_utf8.en:2: invalid UTF-8");
  expect_one_line_error(eval(data("ref.en"), "ok\n\xff\n"), "<stdin>:2: invalid UTF-8");
}

TEST(MoeEvalCliErrors, UnknownOptionValues) {
  const std::string base = data("ref.en") + " -i " + data("hyp.en");
  expect_one_line_error(eval(base + " -tok 14a"), "unknown tokenizer '14a'");
  expect_one_line_error(eval(base + " -m bleu meteor"), "unknown metric 'meteor'");
  expect_one_line_error(eval(base + " -s laplace"), "unknown smoothing method 'laplace'");
  expect_one_line_error(eval(base + " -f xml"), "unknown format 'xml'");
  expect_one_line_error(eval(base + " --no-such-option"), "--no-such-option");
  expect_one_line_error(eval(base + " -w many"), "many");
  // Orders in the millions used to allocate per-order tables until memory ran out.
  expect_one_line_error(eval(base + " -m chrf -cc 100000000"), "must be <= 100");
  expect_one_line_error(eval(base + " -m chrf -cw 2147483647"), "must be <= 100");
}

TEST(MoeEvalCliErrors, InvalidCombinations) {
  const std::string base = data("ref.en") + " -i " + data("hyp.en");
  expect_one_line_error(eval(base + " -sl -m bleu chrf"), "Only one metric");
  expect_one_line_error(eval(base + " --paired-bs"),
                        "Paired tests require multiple input systems given to --input (-i).");
  expect_one_line_error(eval(data("ref.en") + " -i " + data("hyp.en") + " " + data("hyp2.en")),
                        "--paired-bs or --paired-ar");
  expect_one_line_error(eval("-i " + data("hyp.en")), "no reference file");
  expect_one_line_error(eval("--tsv " + data("mini.tsv") + " " + data("ref.en") + " -i " + data("hyp.en")),
                        "cannot be combined");
}

TEST(MoeEvalCliErrors, MalformedTsvAndReferenceFields) {
  expect_one_line_error(eval("--tsv " + data("bad.tsv") + " -i " + data("one_line.en")),
                        "bad.tsv:1: expected lang<TAB>source<TAB>reference");
  // A fourth field is not glued onto the reference.
  const std::string four = shell_quote(write_file(temp_dir(), "four.tsv", "de\ts\tr\nfr\ts\tr\tx\n"));
  expect_one_line_error(eval("--tsv " + four + " -i " + data("hyp.en")),
                        "four.tsv:2: expected lang<TAB>source<TAB>reference (3 tab-separated fields), "
                        "found 4");
  // sacreBLEU exits with 17 when a -nr line has the wrong number of fields.
  expect_one_line_error(eval(data("ref.en") + " -nr 2 -i " + data("hyp.en")),
                        "ref.en:1: expected 2 tab-separated references", 17);
}

TEST(MoeEvalCliErrors, SmoothingValueMustBeFiniteAndNotNegative) {
  const std::string base = data("ref.en") + " -i " + data("hyp.en");
  expect_one_line_error(eval(base + " -s add-k --smooth-value nan"),
                        "--smooth-value must be a finite number >= 0, got nan");
  expect_one_line_error(eval(base + " -s add-k --smooth-value -1"), "got -1");
  expect_one_line_error(eval(base + " -s floor --smooth-value -100 --sentence-level"), "got -100");
  expect_one_line_error(eval(base + " -s floor -sv inf"), "got inf");
  // 0 is a valid value: floor 0 leaves a zero-match order at precision 0, like none.
  const CommandResult zero = eval(base + " -s floor -sv 0 -f text");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_NE(zero.out.find("|smooth:floor[0.00]|"), std::string::npos) << zero.out;
}

TEST(MoeEvalCliErrors, DirectoryInsteadOfAFile) {
  const std::string dir = temp_dir();
  expect_one_line_error(eval(shell_quote(dir) + " -i " + data("hyp.en")), dir + ": is a directory");
  expect_one_line_error(eval(data("ref.en") + " -i " + shell_quote(dir)), dir + ": is a directory");
  expect_one_line_error(eval("--tsv " + shell_quote(dir) + " -i " + data("hyp.en")),
                        dir + ": is a directory");
  const CommandResult in = eval_redirected(data("ref.en") + " <" + shell_quote(dir) + " >/dev/null");
  EXPECT_EQ(in.exit_code, 1);
  EXPECT_EQ(in.err, "moe-eval: error: <stdin>: read error: Is a directory\n");
}

TEST(MoeEvalCliErrors, FailedWriteToStdoutIsAnError) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const CommandResult r = eval_redirected(data("ref.en") + " -i " + data("hyp.en") + " >/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-eval: error: cannot write standard output: No space left on device\n");
  for (const std::string flag : {"--version", "--help"}) {
    const CommandResult r = eval_redirected(flag + " >/dev/full");
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_EQ(r.err, "moe-eval: error: <stdout>: write failed\n") << flag;
  }
}

TEST(MoeEvalCli, EnvironmentSelectsFormatAndSeedAsInSacrebleu) {
  const std::string base = data("ref.en") + " -i " + data("hyp.en");
  const std::string paired = base + " " + data("hyp2.en") + " --paired-bs -cin 2";
  // sacreBLEU's parse_args: SACREBLEU_FORMAT, in any case, overrides -f; a value
  // that is no format is ignored; latex is text for one system.
  setenv("SACREBLEU_FORMAT", "text", 1);
  const CommandResult text = eval(base);
  setenv("SACREBLEU_FORMAT", "TeXt", 1);
  const CommandResult over_json = eval(base + " -f json");
  setenv("SACREBLEU_FORMAT", "xml", 1);
  const CommandResult ignored = eval(base);
  const CommandResult ignored_text = eval(base + " -f text");
  setenv("SACREBLEU_FORMAT", "latex", 1);
  const CommandResult latex = eval(base + " -f json");
  const CommandResult latex_paired = eval(paired);  // the LaTeX table is not written: ignored
  unsetenv("SACREBLEU_FORMAT");
  const CommandResult latex_flag = eval(base + " -f latex");
  const CommandResult latex_flag_paired = eval(paired + " -f latex");
  EXPECT_EQ(text.out.substr(0, 5), "BLEU|") << text.err;
  EXPECT_EQ(over_json.out.substr(0, 5), "BLEU|") << over_json.err;
  EXPECT_EQ(ignored.out.substr(0, 2), "{\n") << ignored.err;
  EXPECT_EQ(ignored_text.out.substr(0, 5), "BLEU|") << ignored_text.err;
  EXPECT_EQ(latex.out.substr(0, 5), "BLEU|") << latex.err;
  EXPECT_EQ(latex_paired.exit_code, 0) << latex_paired.err;
  EXPECT_EQ(latex_paired.out.substr(0, 1), "[") << latex_paired.out;
  EXPECT_EQ(latex_flag.out.substr(0, 5), "BLEU|") << latex_flag.err;
  expect_one_line_error(latex_flag_paired, "format 'latex' (a LaTeX table) is not supported");
  setenv("SACREBLEU_SEED", "None", 1);
  const CommandResult unseeded = eval(base + " -ci -cin 50 -f text");
  setenv("SACREBLEU_SEED", "abc", 1);
  const CommandResult bad_seed = eval(base + " -ci");
  // NumPy's default_rng rejects a negative seed; strtoull used to wrap -1 to 2^64 - 1.
  setenv("SACREBLEU_SEED", "-1", 1);
  const CommandResult negative_seed = eval(base + " -ci");
  const CommandResult negative_paired = eval(base + " " + data("hyp2.en") + " --paired-bs");
  unsetenv("SACREBLEU_SEED");
  EXPECT_NE(unseeded.out.find("|bs:50|seed:none|"), std::string::npos) << unseeded.out << unseeded.err;
  expect_one_line_error(bad_seed, "SACREBLEU_SEED");
  expect_one_line_error(negative_seed, "SACREBLEU_SEED must be 'none' or an integer >= 0");
  expect_one_line_error(negative_paired, "SACREBLEU_SEED must be 'none' or an integer >= 0");
}

TEST(MoeEvalCli, ARepeatedFlagTakesItsLastValueAsInSacrebleu) {
  // argparse keeps the last value of a repeated option, and a repeated list
  // option (-m, -i) replaces the earlier list instead of extending it.
  const CommandResult scalar = eval(data("ref.en") + " -i " + data("hyp.en") +
                                    " -w 1 -w 4 -f json -f text -b -b");
  ASSERT_EQ(scalar.exit_code, 0) << scalar.err;
  EXPECT_EQ(scalar.out, "74.1945\n");
  const CommandResult metrics = eval(data("chrf_ref.txt") + " -i " + data("chrf_hyp.txt") +
                                     " -m bleu ter -m chrf -f text -w 4");
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_EQ(metrics.out.rfind("chrF2|", 0), 0u) << metrics.out;
  EXPECT_EQ(std::count(metrics.out.begin(), metrics.out.end(), '\n'), 1) << metrics.out;
  // Two -i options are one system, the last: no "several systems" error.
  const CommandResult inputs = eval(data("ref.en") + " -i " + data("hyp2.en") + " -i " +
                                    data("hyp.en") + " -b -w 4");
  ASSERT_EQ(inputs.exit_code, 0) << inputs.err;
  EXPECT_EQ(inputs.out, "74.1945\n");
}

// stress.* are 300 generated lines mixing the tokenizers' hard cases (entities,
// "x,.5", CJK, emoji ZWJ sequences, final sigma, İ, NBSP, empty and upper-cased
// hypotheses, shuffled words) with two references. The expected values come from
// tests/eval/spec_model.py, an independent Python model of METRICS.md.
TEST(MoeEvalCli, StressSetAgreesWithTheSpecModel) {
  const std::string base = data("stress.ref1") + " " + data("stress.ref2") + " -i " + data("stress.hyp") +
                           " -b -w 6 --force";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "67.082195"},           {"-lc", "72.616805"},         {"-tok intl", "71.543385"},
      {"-tok zh -lc", "76.162347"}, {"-tok char", "76.201165"},  {"-tok none", "60.034867"},
      {"-s add-k", "67.092132"},   {"-m chrf", "73.306362"},     {"-m chrf -cw 2", "74.045026"},
      {"-m ter", "19.963702"},
  };
  for (const auto& [options, expected] : cases) {
    const CommandResult r = eval(base + " " + options);
    EXPECT_EQ(r.out, expected + "\n") << options << ": " << r.err;
  }
}

// long.* are 25 generated pairs of 40-260 words with edits, block moves, truncated and
// doubled hypotheses, so TER's beam (25 cells around the diagonal, wider for length
// ratios above 50) and the 1000-candidate shift cap are exercised. Expected value from
// tests/eval/spec_model.py.
TEST(MoeEvalCli, TerOnLongSentencesAgreesWithTheSpecModel) {
  const CommandResult r = eval(data("long.ref") + " -i " + data("long.hyp") + " -m ter -b -w 6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "46.817343\n");
}

TEST(MoeEvalCli, VersionAndHelp) {
  const CommandResult v = eval("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, "moe-eval " + version() + "\n");
  const CommandResult h = eval("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--chrf-word-order"), std::string::npos);
}

}  // namespace
}  // namespace moe::test
