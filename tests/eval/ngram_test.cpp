// NgramMatcher: exact counts, clipping against several references, and n-grams
// longer than the packed key.
#include "eval/ngram.h"

#include <gtest/gtest.h>

namespace moe::eval {
namespace {

using Ids = std::vector<std::uint32_t>;

TEST(NgramMatcher, CountsClippedMatchesPerReference) {
  const Ids hyp = {1, 1, 1, 2};
  NgramMatcher m;
  m.load_hypothesis(hyp, 1, SymbolWidth::kWordId);
  EXPECT_EQ(m.hypothesis_total(), 4);
  std::int64_t ref_total = 0;
  EXPECT_EQ(m.match_reference(Ids{1, 3}, &ref_total), 1);  // min(3, 1) for symbol 1
  EXPECT_EQ(ref_total, 2);
  EXPECT_EQ(m.match_reference(Ids{1, 1, 2, 2}, &ref_total), 3);  // min(3,2) + min(1,2)
  // Max over references: symbol 1 -> 2, symbol 2 -> 2; clipped: min(3,2) + min(1,2) = 3.
  EXPECT_EQ(m.clipped_against_max_reference(), 3);
}

TEST(NgramMatcher, MaxOverReferencesIsPerNgram) {
  // hyp "a a b b"; ref1 has a twice, ref2 has b twice: max-ref clipping gives 4,
  // although no single reference matches more than 2.
  const Ids hyp = {1, 1, 2, 2};
  NgramMatcher m;
  m.load_hypothesis(hyp, 1, SymbolWidth::kWordId);
  std::int64_t total = 0;
  EXPECT_EQ(m.match_reference(Ids{1, 1}, &total), 2);
  EXPECT_EQ(m.match_reference(Ids{2, 2}, &total), 2);
  EXPECT_EQ(m.clipped_against_max_reference(), 4);
}

TEST(NgramMatcher, LongNgramsCompareBeyondThePackedPrefix) {
  // Five word ids: the first four are packed, the fifth decides.
  const Ids hyp = {7, 8, 9, 10, 11};
  NgramMatcher m;
  m.load_hypothesis(hyp, 5, SymbolWidth::kWordId);
  std::int64_t total = 0;
  EXPECT_EQ(m.match_reference(Ids{7, 8, 9, 10, 12}, &total), 0);
  EXPECT_EQ(m.match_reference(Ids{0, 7, 8, 9, 10, 11}, &total), 1);
  EXPECT_EQ(total, 2);
  // Eight code points: six packed, two compared.
  const Ids chars = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  m.load_hypothesis(chars, 8, SymbolWidth::kCodePoint);
  EXPECT_EQ(m.match_reference(Ids{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'x'}, &total), 0);
  EXPECT_EQ(m.match_reference(chars, &total), 1);
}

TEST(NgramMatcher, DistinguishesLargeSymbols) {
  // Ids that differ only in high bits must not collide in the packed key.
  const Ids hyp = {0x80000000u, 1u};
  NgramMatcher m;
  m.load_hypothesis(hyp, 2, SymbolWidth::kWordId);
  std::int64_t total = 0;
  EXPECT_EQ(m.match_reference(Ids{0u, 1u}, &total), 0);
  EXPECT_EQ(m.match_reference(Ids{0x80000000u, 1u}, &total), 1);
  const Ids cps = {0x10FFFF, 0x10FFFE, 0x1F600};
  m.load_hypothesis(cps, 3, SymbolWidth::kCodePoint);
  EXPECT_EQ(m.match_reference(Ids{0x10FFFF, 0x10FFFE, 0x1F601}, &total), 0);
  EXPECT_EQ(m.match_reference(cps, &total), 1);
}

TEST(NgramMatcher, ShortSequencesHaveNoNgrams) {
  NgramMatcher m;
  const Ids hyp = {1, 2};
  m.load_hypothesis(hyp, 3, SymbolWidth::kWordId);
  EXPECT_EQ(m.hypothesis_total(), 0);
  std::int64_t total = -1;
  EXPECT_EQ(m.match_reference(Ids{1, 2, 3}, &total), 0);
  EXPECT_EQ(total, 1);
  EXPECT_EQ(m.clipped_against_max_reference(), 0);
}

TEST(TokenVocab, DenseIdsPerDistinctToken) {
  TokenVocab vocab;
  EXPECT_EQ(vocab.id(U"a"), 0u);
  EXPECT_EQ(vocab.id(U"b"), 1u);
  EXPECT_EQ(vocab.id(U"a"), 0u);
  EXPECT_EQ(vocab.size(), 2u);
}

}  // namespace
}  // namespace moe::eval
