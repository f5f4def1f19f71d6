// BLEU expectations derived by hand from METRICS.md §2.3-2.9; the arithmetic in
// each comment is the spec's formula evaluated with a calculator.
#include "eval/bleu.h"

#include <gtest/gtest.h>

#include "eval/segment_stats_helper.h"

#include <cmath>

#include "util/error.h"
#include "util/version.h"
#include "util/version.h"

namespace moe::eval {
namespace {

BleuStats stats_of(const std::string& hyp, const std::vector<std::string>& refs,
                   const BleuOptions& options = {}) {
  return testing::segment_stats_for<BleuScorer>(hyp, refs, options);
}

BleuStats make_stats(std::int64_t hyp_len, std::int64_t ref_len,
                     std::array<std::int64_t, 4> correct, std::array<std::int64_t, 4> total) {
  BleuStats s;
  s.hyp_len = hyp_len;
  s.ref_len = ref_len;
  s.correct = correct;
  s.total = total;
  return s;
}

BleuOptions with_smoothing(SmoothMethod method, std::optional<double> value = std::nullopt) {
  BleuOptions o;
  o.smooth_method = method;
  o.smooth_value = value;
  return o;
}

TEST(BleuStats, ClipsByMaximumCountOverReferences) {
  // hyp "the the the the"; refs "the cat" (the x1) and "the the cat" (the x2, "the the" x1).
  const BleuStats s = stats_of("the the the the", {"the cat", "the the cat"});
  EXPECT_EQ(s.correct, (std::array<std::int64_t, 4>{2, 1, 0, 0}));
  EXPECT_EQ(s.total, (std::array<std::int64_t, 4>{4, 3, 2, 1}));
}

TEST(BleuStats, ClippingIsNotTakenFromTheClosestReferenceOnly) {
  // The closest reference (3 tokens) has "b" once; the far one has it twice.
  const BleuStats s = stats_of("b b", {"b c d", "b b x y z q r"});
  EXPECT_EQ(s.ref_len, 3);
  EXPECT_EQ(s.correct[0], 2);
  EXPECT_EQ(s.correct[1], 1);
}

TEST(BleuStats, ClosestReferenceLengthTiesGoToTheShorter) {
  EXPECT_EQ(stats_of("a b c d e f g h i", {"a b c d e f g h", "a b c d e f g h i j",
                                           "a b c d e f g h i j k l m n"}).ref_len, 8);
  EXPECT_EQ(stats_of("a b", {"x y z", "x"}).ref_len, 1);  // |2-3| == |2-1|: the shorter
  EXPECT_EQ(stats_of("a b", {"x", "x y z"}).ref_len, 1);  // same, whatever the order
  // An empty reference is a reference of length 0.
  EXPECT_EQ(stats_of("a b", {"a b c d e f g h i j k l", ""}).ref_len, 0);
}

TEST(BleuStats, TokenizesAndLowercasesFirst) {
  BleuOptions lc;
  lc.lowercase = true;
  // "&QUOT;" lowercases to "&quot;", which 13a then unescapes to '"'.
  const BleuStats s = stats_of("&QUOT;Hi&QUOT;", {"\" hi \""}, lc);
  EXPECT_EQ(s.hyp_len, 3);
  EXPECT_EQ(s.correct[0], 3);
  EXPECT_EQ(s.correct[2], 1);
}

TEST(BleuScore, PerfectMatchAndHandDerivedCorpus) {
  // "the cat sat on a mat" vs "the cat sat on the mat": matches 5/6, 3/5, 2/4, 1/3,
  // BP = 1, BLEU = 100 * (5/6 * 3/5 * 2/4 * 1/3)^(1/4) = 100 * 12^(-1/4) = 53.7285.
  const BleuScore one = bleu_from_stats(stats_of("the cat sat on a mat", {"the cat sat on the mat"}), {});
  EXPECT_NEAR(one.score, 53.72849659, 1e-6);
  EXPECT_EQ(one.verbose(), "83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)");
  const BleuScore perfect = bleu_from_stats(stats_of("Good morning !", {"Good morning !"}), {});
  EXPECT_DOUBLE_EQ(perfect.score, 0.0);  // no 4-gram in a 3-token corpus: total[4] == 0
}

TEST(BleuScore, BrevityPenalty) {
  // sys 148, ref 161: BP = exp(1 - 161/148) = 0.91584..., ratio 0.919.
  const BleuScore s = bleu_from_stats(make_stats(148, 161, {100, 60, 40, 20}, {148, 147, 146, 145}), {});
  EXPECT_NEAR(s.brevity_penalty, std::exp(1.0 - 161.0 / 148.0), 1e-15);
  EXPECT_NEAR(s.ratio, 148.0 / 161.0, 1e-15);
}

TEST(BleuSmoothing, ExpHalvesEachZeroOrder) {
  // correct [11,4,0,0], total [15,13,11,9]: p3 = 100/(2*11), p4 = 100/(4*9).
  const BleuScore s = bleu_from_stats(make_stats(15, 15, {11, 4, 0, 0}, {15, 13, 11, 9}), {});
  EXPECT_NEAR(s.precisions[2], 4.545454545, 1e-8);
  EXPECT_NEAR(s.precisions[3], 2.777777777, 1e-8);
  EXPECT_NEAR(s.score, 12.991916506579942, 1e-9);
}

TEST(BleuSmoothing, FloorUsesEpsilonOverTotal) {
  // p3 = 100*0.1/11, p4 = 100*0.1/9.
  const BleuScore s = bleu_from_stats(make_stats(15, 15, {11, 4, 0, 0}, {15, 13, 11, 9}),
                                      with_smoothing(SmoothMethod::kFloor));
  EXPECT_NEAR(s.precisions[2], 0.9090909090, 1e-8);
  EXPECT_NEAR(s.score, 6.909485625039601, 1e-9);
}

TEST(BleuSmoothing, AddKSmoothsOrdersTwoToFourEvenWithMatches) {
  // p1 = 11/15 unsmoothed, p2 = 5/14, p3 = 1/12, p4 = 1/10.
  const BleuScore s = bleu_from_stats(make_stats(15, 15, {11, 4, 0, 0}, {15, 13, 11, 9}),
                                      with_smoothing(SmoothMethod::kAddK));
  EXPECT_NEAR(s.precisions[0], 73.333333333, 1e-8);
  EXPECT_NEAR(s.precisions[1], 35.714285714, 1e-8);
  EXPECT_NEAR(s.score, 21.614268253890916, 1e-9);
  EXPECT_EQ(s.counts[1], 4);  // reported counts are the raw ones
}

TEST(BleuSmoothing, AddKGivesOrdersWithoutNgramsPrecision100) {
  // 2-token hypothesis: total[3] = total[4] = 0, but k is added first: 1/1 = 100%.
  const BleuScore s = bleu_from_stats(make_stats(2, 2, {2, 1, 0, 0}, {2, 1, 0, 0}),
                                      with_smoothing(SmoothMethod::kAddK));
  EXPECT_DOUBLE_EQ(s.precisions[2], 100.0);
  EXPECT_DOUBLE_EQ(s.precisions[3], 100.0);
  EXPECT_DOUBLE_EQ(s.score, 100.0);  // (100 * 100 * 100 * 100)^(1/4)
}

TEST(BleuSmoothing, NoneGivesZeroWhenAnOrderHasNoMatch) {
  const BleuScore s = bleu_from_stats(make_stats(15, 15, {11, 4, 2, 0}, {15, 13, 11, 9}),
                                      with_smoothing(SmoothMethod::kNone));
  EXPECT_DOUBLE_EQ(s.precisions[3], 0.0);
  EXPECT_DOUBLE_EQ(s.score, 0.0);
}

TEST(BleuSmoothing, NoMatchAtAllIsZeroForEveryMethod) {
  for (SmoothMethod m : {SmoothMethod::kExp, SmoothMethod::kFloor, SmoothMethod::kAddK,
                         SmoothMethod::kNone}) {
    const BleuScore s = bleu_from_stats(make_stats(4, 5, {0, 0, 0, 0}, {4, 3, 2, 1}), with_smoothing(m));
    EXPECT_DOUBLE_EQ(s.score, 0.0);
    EXPECT_DOUBLE_EQ(s.precisions[0], 0.0);
    EXPECT_NEAR(s.brevity_penalty, std::exp(1.0 - 5.0 / 4.0), 1e-15);
  }
}

TEST(BleuSentence, EffectiveOrderStopsAtTheLongestOrderWithNgrams) {
  // "Merci ." vs "Thank you .": correct [1,0,0,0], total [2,1,0,0]; exp p2 = 50,
  // m = 2, BP = exp(1 - 3/2): 0.60653 * sqrt(50 * 50) = 30.3265.
  BleuOptions sentence;
  sentence.effective_order = true;
  const BleuScore s = bleu_from_stats(stats_of("Merci .", {"Thank you ."}), sentence);
  EXPECT_NEAR(s.score, 30.326532985631665, 1e-9);
  EXPECT_DOUBLE_EQ(bleu_from_stats(stats_of("Good morning !", {"Good morning !"}), sentence).score,
                   100.0);
  const BleuScore empty = bleu_from_stats(stats_of("", {"Hello there"}), sentence);
  EXPECT_EQ(empty.verbose(), "0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 2)");
}

TEST(BleuCorpus, SumsStatisticsBeforeScoring) {
  // Two segments: the 53.73 one above and a perfect "It rained in 2019 ." (5 tokens).
  // Sums: correct [10,7,5,3], total [11,9,7,5]: 100 * (10/11*7/9*5/7*3/5)^(1/4) = 74.1945.
  const BleuScore s = corpus_bleu({"the cat sat on a mat", "It rained in 2019."},
                                  {{"the cat sat on the mat", "It rained in 2019."}});
  EXPECT_NEAR(s.score, 74.19446627365011, 1e-9);
  EXPECT_EQ(s.hyp_len, 11);
}

TEST(BleuCorpus, RejectsStreamsOfDifferentLengths) {
  EXPECT_THROW(corpus_bleu({"a", "b"}, {{"a"}}), InputError);
  EXPECT_THROW(corpus_bleu({"\xC3"}, {{"a"}}), InputError);
}

TEST(BleuSignature, KeysAndSmoothingValueFormat) {
  EXPECT_EQ(make_signature(1, {}, bleu_signature_fields({})).format(),
            std::string("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:") + kVersion);
  EXPECT_EQ(bleu_signature_fields(with_smoothing(SmoothMethod::kFloor))[3].value, "floor[0.10]");
  EXPECT_EQ(bleu_signature_fields(with_smoothing(SmoothMethod::kAddK, 2.0))[3].value, "add-k[2.00]");
  EXPECT_EQ(bleu_signature_fields(with_smoothing(SmoothMethod::kFloor, 0.5))[3].value, "floor[0.50]");
  EXPECT_EQ(make_signature(2, {}, bleu_signature_fields({})).format(true),
            std::string("#:2|c:mixed|e:no|tok:13a|s:exp|v:") + kVersion);
}

TEST(BleuSignature, HugeSmoothingValuePrintsEveryDigit) {
  // Python's '%.2f' % 1e70.
  EXPECT_EQ(bleu_signature_fields(with_smoothing(SmoothMethod::kFloor, 1e70))[3].value,
            "floor[10000000000000000725314363815292351261583744096465219555182101554790400.00]");
}

TEST(BleuSmoothing, RejectsNonFiniteAndNegativeValues) {
  for (double bad : {std::nan(""), HUGE_VAL, -1.0}) {
    EXPECT_THROW(effective_smooth_value(with_smoothing(SmoothMethod::kFloor, bad)), InputError) << bad;
    EXPECT_THROW(bleu_from_stats(make_stats(2, 2, {1, 0, 0, 0}, {2, 1, 0, 0}),
                                 with_smoothing(SmoothMethod::kAddK, bad)),
                 InputError)
        << bad;
  }
  EXPECT_EQ(effective_smooth_value(with_smoothing(SmoothMethod::kFloor, 0.0)), 0.0);
}

TEST(BleuWarning, CountsLinesEndingInATokenizedPeriod) {
  // Counted after rstrip, also for a library caller's unstripped lines.
  EXPECT_EQ(count_tokenized_period_lines({"a .", "a.", "b . \t", "c .\u00A0", " ."}), 4u);
}

TEST(BleuOptionsParsing, SmoothMethodNames) {
  EXPECT_EQ(parse_smooth_method("add-k"), SmoothMethod::kAddK);
  EXPECT_THROW(parse_smooth_method("addk"), InputError);
}

}  // namespace
}  // namespace moe::eval
