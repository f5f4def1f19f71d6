// chrF / chrF++ expectations derived by hand from METRICS.md §3.
#include "eval/chrf.h"

#include <gtest/gtest.h>

#include "eval/segment_stats_helper.h"

#include "util/error.h"
#include "util/version.h"

namespace moe::eval {
namespace {

ChrfStats stats_of(const std::string& hyp, const std::vector<std::string>& refs,
                   const ChrfOptions& options = {}) {
  return testing::segment_stats_for<ChrfScorer>(hyp, refs, options);
}

TEST(Chrf, Names) {
  EXPECT_EQ(chrf_name({}), "chrF2");
  EXPECT_EQ(chrf_name({.word_order = 2}), "chrF2++");
  EXPECT_EQ(chrf_name({.word_order = 1, .beta = 3}), "chrF3+");
}

TEST(Chrf, CharacterStatisticsIgnoreWhitespace) {
  // "ab c" -> "abc" vs "abd": order 1 [3,3,2], order 2 [2,2,1] (ab), order 3 [1,1,0],
  // orders 4..6: no n-grams on either side.
  const ChrfStats s = stats_of("ab c", {"abd"});
  const ChrfStats expected = {3, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(s, expected);
  // P = R = (2/3 + 1/2 + 0) / 3 = 7/18; F2 = 5PR / (4P + R) = P = 38.8889.
  EXPECT_NEAR(chrf_from_stats(s, {}), 100.0 * 7.0 / 18.0, 1e-12);
}

TEST(Chrf, WhitespaceOptionKeepsSpaces) {
  const ChrfStats s = stats_of("a b", {"a b"}, {.char_order = 2, .whitespace = true});
  EXPECT_EQ(s, (ChrfStats{3, 3, 3, 2, 2, 2}));
}

TEST(Chrf, SegmentsAreNotRightStripped) {
  // sacreBLEU's CHRF uses a segment as given (only its CLI strips lines), so with
  // whitespace on, the reference "a b " has 4 characters: order 1 [3,4,3], order 2
  // [2,3,2] ("b " unmatched), order 3 [1,2,1], order 4 [0,1,0], orders 5-6 empty.
  // P = 1, R = (3/4 + 2/3 + 1/2) / 3 = 23/36: F2 = 5PR / (4P + R) = 115/167 = 68.8623.
  const ChrfOptions spaces{.whitespace = true};
  const ChrfStats s = stats_of("a b", {"a b "}, spaces);
  EXPECT_EQ(s, (ChrfStats{3, 4, 3, 2, 3, 2, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_NEAR(chrf_from_stats(s, spaces), 100.0 * 115.0 / 167.0, 1e-12);
}

TEST(Chrf, ScoreArithmeticIsBitExact) {
  // hyp "baaaa" vs ref "b", beta 3: order 1 [5,1,1], orders 2-6 have no reference
  // n-grams. P = 0.2, R = 1, f = 9: t = 10 * 0.2 * 1 = 2, t / (9 * 0.2 + 1) * 100.
  // Python gives 71.42857142857143 (0x1.1db6db6db6db7p+6); a fused multiply-add
  // for 9 * 0.2 + 1 gives 71.42857142857141639 instead (METRICS.md §3.5).
  const ChrfOptions beta3{.beta = 3};
  const ChrfStats s = stats_of("baaaa", {"b"}, beta3);
  EXPECT_EQ(s, (ChrfStats{5, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(chrf_from_stats(s, beta3), 0x1.1db6db6db6db7p+6);
}

TEST(Chrf, ReferenceWithoutNgramsZeroesTheHypothesisCount) {
  // Empty reference: all stats 0, score 0.
  EXPECT_EQ(stats_of("Thank you.", {""}), ChrfStats(18, 0));
  EXPECT_DOUBLE_EQ(chrf_from_stats(stats_of("Thank you.", {""}), {}), 0.0);
  // Reference "I": order 1 is [3 ("Iam"), 1, 1]; orders 2..6 are all zero.
  const ChrfStats s = stats_of("I am", {"I"});
  EXPECT_EQ(s[0], 3);
  EXPECT_EQ(s[1], 1);
  EXPECT_EQ(s[2], 1);
  for (std::size_t i = 3; i < s.size(); ++i) EXPECT_EQ(s[i], 0) << i;
  // P = 1/3, R = 1: F2 = 5 * (1/3) / (4/3 + 1) = 5/7.
  EXPECT_NEAR(chrf_from_stats(s, {}), 100.0 * 5.0 / 7.0, 1e-12);
}

TEST(ChrfPlusPlus, WordsLoseOneAsciiPunctuationCharacter) {
  const ChrfOptions words_only{.char_order = 0, .word_order = 1};
  // "(Reuters)" loses only its last character: "(Reuters" ")". The reference
  // "( Reuters )" has the words "(" "Reuters" ")", so only ")" matches.
  EXPECT_EQ(stats_of("(Reuters)", {"(Reuters)"}, words_only), (ChrfStats{2, 2, 2}));
  EXPECT_EQ(stats_of("(Reuters)", {"( Reuters )"}, words_only), (ChrfStats{2, 3, 1}));
  // "Wait..." -> "Wait.." "."; "Wait. . ." -> "Wait" "." "." ".": one "." matches.
  EXPECT_EQ(stats_of("Wait...", {"Wait. . ."}, words_only), (ChrfStats{2, 4, 1}));
  // "\"It's" -> "\"" "It's" (only the leading quote, the trailing s is a letter).
  EXPECT_EQ(stats_of("\"It's", {"\" It's"}, words_only), (ChrfStats{2, 2, 2}));
  // Non-ASCII punctuation is never split: "word…" stays one word.
  EXPECT_EQ(stats_of("word…", {"word …"}, words_only), (ChrfStats{1, 2, 0}));
}

TEST(ChrfPlusPlus, WordBigramsFollowCharacterOrders) {
  // chrF++ on "a b" vs "a b": char orders 1..2 [2,2,2] [1,1,1], 3..6 zero,
  // word 1 [2,2,2], word 2 [1,1,1]: every present order is perfect -> 100.
  const ChrfStats s = stats_of("a b", {"a b"}, {.word_order = 2});
  ASSERT_EQ(s.size(), 24u);
  EXPECT_EQ(s[18], 2);
  EXPECT_EQ(s[21], 1);
  EXPECT_DOUBLE_EQ(chrf_from_stats(s, {.word_order = 2}), 100.0);
}

TEST(Chrf, KeepsTheReferenceWithTheBestSegmentScore) {
  EXPECT_EQ(stats_of("abc", {"xyz", "abc"}), stats_of("abc", {"abc"}));
  EXPECT_EQ(stats_of("abc", {"abc", "xyz"}), stats_of("abc", {"abc"}));
}

TEST(Chrf, EpsSmoothingAveragesPerOrderF) {
  // "ab" vs "ab" with char order 3: orders 1, 2 have F = 1; order 3: h = r = 0, so
  // prec = rec = 1e-16, d = 5e-16, term = 5e-32 / 5e-16 = 1e-16. Sum / 3 * 100.
  const ChrfOptions eps{.char_order = 3, .eps_smoothing = true};
  EXPECT_NEAR(chrf_from_stats(stats_of("ab", {"ab"}, eps), eps), 100.0 * (2.0 + 1e-16) / 3.0, 1e-12);
}

TEST(Chrf, LowercaseOption) {
  EXPECT_DOUBLE_EQ(chrf_from_stats(stats_of("ABC", {"abc"}, {.lowercase = true}), {}), 100.0);
  EXPECT_DOUBLE_EQ(chrf_from_stats(stats_of("ABC", {"abc"}), {}), 0.0);
}

TEST(Chrf, CorpusSumsStatistics) {
  // Segment 1 is "ab c" vs "abd" above; segment 2 "xy" vs "xy": [2,2,2] [1,1,1].
  // Sums: order 1 [5,5,4], 2 [3,3,2], 3 [1,1,0]: P = R = (4/5 + 2/3 + 0)/3 = 22/45.
  EXPECT_NEAR(corpus_chrf({"ab c", "xy"}, {{"abd", "xy"}}), 100.0 * 22.0 / 45.0, 1e-12);
  EXPECT_THROW(corpus_chrf({"a"}, {{"a", "b"}}), InputError);
}

TEST(Chrf, SignatureFields) {
  EXPECT_EQ(make_signature(1, {}, chrf_signature_fields({})).format(),
            std::string("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:") + kVersion);
  EXPECT_EQ(chrf_signature_fields({.eps_smoothing = true})[1].value, "no");
}

}  // namespace
}  // namespace moe::eval
