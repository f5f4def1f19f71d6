// TER expectations derived by hand from METRICS.md §4.
#include "eval/ter.h"

#include <gtest/gtest.h>

#include "eval/segment_stats_helper.h"

#include "util/error.h"

namespace moe::eval {
namespace {

using Ids = std::vector<std::uint32_t>;

TerStats stats_of(const std::string& hyp, const std::vector<std::string>& refs,
                   const TerOptions& options = {}) {
  return testing::segment_stats_for<TerScorer>(hyp, refs, options);
}

TEST(TerEditDistance, LevenshteinWithTrace) {
  const EditDistance d = ter_edit_distance(Ids{1, 2, 3}, Ids{1, 3});
  EXPECT_EQ(d.cost, 1);
  EXPECT_EQ(d.trace, (std::vector<EditOp>{EditOp::kMatch, EditOp::kDelete, EditOp::kMatch}));
  const EditDistance s = ter_edit_distance(Ids{1, 2}, Ids{1, 4, 5});
  EXPECT_EQ(s.cost, 2);  // substitute 2->4, insert 5
  EXPECT_EQ(ter_edit_distance(Ids{}, Ids{1, 2}).cost, 2);
}

TEST(TerShifts, MovingOneWordCostsOneEdit) {
  // "b c a" vs "a b c": Levenshtein 2 (delete a, insert a); one shift of "a" to the
  // front leaves no edit, so 1 edit in total.
  EXPECT_EQ(ter_pair_edits(Ids{2, 3, 1}, Ids{1, 2, 3}), 1);
  // A block of three words moved as one shift: "d e f a b c" vs "a b c d e f".
  EXPECT_EQ(ter_pair_edits(Ids{4, 5, 6, 1, 2, 3}, Ids{1, 2, 3, 4, 5, 6}), 1);
  // Nothing to gain from shifting: a plain substitution.
  EXPECT_EQ(ter_pair_edits(Ids{1, 9, 3}, Ids{1, 2, 3}), 1);
}

TEST(TerShifts, EmptyReferenceCostsEveryHypothesisWord) {
  EXPECT_EQ(ter_pair_edits(Ids{1, 2, 3}, Ids{}), 3);
}

TEST(TerSegment, MinimumEditsOverAverageReferenceLength) {
  // hyp "a": ref "b" needs 1 edit, ref "c d e" 3: best 1, average length (1+3)/2 = 2.
  const TerStats s = stats_of("a", {"b", "c d e"});
  EXPECT_DOUBLE_EQ(s.edits, 1.0);
  EXPECT_DOUBLE_EQ(s.ref_len, 2.0);
  EXPECT_DOUBLE_EQ(ter_from_stats(s), 50.0);
}

TEST(TerSegment, LowercasesAndKeepsPunctuationByDefault) {
  EXPECT_DOUBLE_EQ(stats_of("Hello World.", {"hello world."}).edits, 0.0);
  EXPECT_DOUBLE_EQ(stats_of("Hello World.", {"hello world."}, {.case_sensitive = true}).edits, 2.0);
  // "Tuesday." is one word, so it does not match "Tuesday".
  EXPECT_DOUBLE_EQ(stats_of("on Tuesday.", {"on Tuesday"}).edits, 1.0);
  EXPECT_DOUBLE_EQ(stats_of("on Tuesday.", {"on Tuesday"}, {.no_punct = true}).edits, 0.0);
}

TEST(TerCorpus, CanExceedOneHundredAndHandlesEmptyReferences) {
  // 5 hypothesis words against 1 reference word: 1 substitution + 4 deletions.
  EXPECT_DOUBLE_EQ(corpus_ter({"a b c d e"}, {{"x"}}), 500.0);
  // Only empty references: L = 0, so 100 if anything was edited, 0 otherwise.
  EXPECT_DOUBLE_EQ(corpus_ter({"a"}, {{""}}), 100.0);
  EXPECT_DOUBLE_EQ(corpus_ter({""}, {{""}}), 0.0);
  // Corpus: (1 + 0) / (3 + 2) edits per reference word.
  EXPECT_DOUBLE_EQ(corpus_ter({"b c a", "x y"}, {{"a b c", "x y"}}), 100.0 * (1.0 / 5.0));
  EXPECT_THROW(corpus_ter({"a"}, {{}}), InputError);
}

TEST(TerSignature, DefaultsAreLowercaseAndPunctuation) {
  EXPECT_EQ(make_signature(1, {}, ter_signature_fields({})).format(true).substr(0, 34),
            "#:1|c:lc|t:tercom|nr:no|pn:yes|as:");
  EXPECT_EQ(ter_signature_fields({.no_punct = true})[3].value, "no");
}

}  // namespace
}  // namespace moe::eval
