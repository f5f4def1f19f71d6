#include "data/corpus_split.h"

#include <gtest/gtest.h>

#include <map>

namespace moe::data {
namespace {

// A distinct letters-only word for each i (digits would all normalise to "0").
std::string word(int i) {
  std::string w;
  do {
    w += static_cast<char>('a' + i % 26);
    i /= 26;
  } while (i > 0);
  return w;
}

Split split_of(const std::string& english) { return split_of_bucket(split_bucket(english_key_digest(english_key(english)))); }

// English sentences of >= 3 words that the hash puts in `split`.
std::vector<std::string> sentences_in(Split split, std::size_t n) {
  std::vector<std::string> found;
  for (int i = 0; found.size() < n; ++i) {
    const std::string sentence = "Open the document number " + word(i) + " now";
    if (split_of(sentence) == split) found.push_back(sentence);
  }
  return found;
}

TEST(CorpusSplit, EnglishKey) {
  EXPECT_EQ(english_key("Save As..."), "saveas");
  EXPECT_EQ(english_key("Delete 3 files"), "delete0files");
  EXPECT_EQ(english_key("Delete 12 files"), "delete0files");
  EXPECT_EQ(english_key("Delete %d files"), "deletefiles");
  EXPECT_EQ(english_key("ÉCOLE"), "école");
}

TEST(CorpusSplit, BucketIsSaltedSha256ModThousand) {
  // sha256("debian-l10n-v1\0saveas") = 61e50714...5f0, whose value mod 1000 is 16.
  EXPECT_EQ(split_bucket(english_key_digest("saveas")), 16);
  EXPECT_EQ(split_of_bucket(16), Split::kDev);
  EXPECT_EQ(split_of_bucket(9), Split::kTest);
  EXPECT_EQ(split_of_bucket(20), Split::kTrain);
}

TEST(CorpusSplit, SplitSharesAreAboutOneAndTwoPercent) {
  std::map<Split, int> counts;
  for (int i = 0; i < 20000; ++i) ++counts[split_of("sentence " + word(i))];
  EXPECT_NEAR(counts[Split::kTest], 200, 60);
  EXPECT_NEAR(counts[Split::kDev], 200, 60);
}

TEST(CorpusSplit, SameEnglishLandsInTheSameSplitForEveryLanguage) {
  const std::vector<std::string> test = sentences_in(Split::kTest, 3);
  const std::vector<std::string> train = sentences_in(Split::kTrain, 3);
  std::vector<std::pair<std::string, std::string>> german, french;
  for (const auto& e : test) german.emplace_back("de: " + e, e), french.emplace_back("fr: " + e, e);
  for (const auto& e : train) german.emplace_back("de: " + e, e), french.emplace_back("fr: " + e, e);
  // Case, digits and punctuation do not move a sentence to another split.
  french.emplace_back("fr: variant", "OPEN the  document number " + test[0].substr(25, test[0].size() - 29) + " now!");
  const LanguageSplits de = split_pairs(german, SplitOptions{});
  const LanguageSplits fr = split_pairs(french, SplitOptions{});
  EXPECT_EQ(de.test.size(), 3u);
  EXPECT_EQ(fr.test.size(), 4u);
  EXPECT_EQ(de.train.size(), 3u);
  EXPECT_EQ(fr.train.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(split_of(de.test[i].second), Split::kTest);
}

TEST(CorpusSplit, EvalSetsAreCappedFilteredAndNeverMovedToTrain) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const std::vector<std::string> test = sentences_in(Split::kTest, 5);
  for (std::size_t i = 0; i < test.size(); ++i) pairs.emplace_back("source " + std::to_string(i), test[i]);
  pairs.emplace_back("source 0", sentences_in(Split::kTrain, 1)[0]);  // source 0 is also in train
  std::string short_test;
  for (int i = 0; short_test.empty(); ++i)
    if (split_of("Go " + word(i)) == Split::kTest) short_test = "Go " + word(i);
  pairs.emplace_back("kurz", short_test);  // 2 words: too short for an eval set
  SplitOptions options;
  options.max_test_pairs = 3;
  const LanguageSplits splits = split_pairs(pairs, options);
  EXPECT_EQ(splits.train.size(), 1u);
  ASSERT_EQ(splits.test.size(), 3u);
  for (const auto& [source, english] : splits.test) {
    EXPECT_NE(source, "source 0");
    EXPECT_NE(source, "kurz");
  }
  // Lowest hash first: the kept three are the three smallest digests of the four candidates.
  std::vector<Sha256Digest> kept, all;
  for (const auto& p : splits.test) kept.push_back(english_key_digest(english_key(p.second)));
  for (std::size_t i = 1; i < test.size(); ++i) all.push_back(english_key_digest(english_key(test[i])));
  std::sort(all.begin(), all.end());
  all.resize(3);
  EXPECT_EQ(kept, all);
}

}  // namespace
}  // namespace moe::data
