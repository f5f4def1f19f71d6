#pragma once
// The train/dev/test split of CORPUS.md "Split": decided by a salted sha256 of
// the normalised English side only, so one English sentence lands in the same
// split for every language and no test sentence is seen in training through
// another language of this heavily multi-way-parallel corpus.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/sha256.h"

namespace moe::data {

enum class Split { kTrain, kDev, kTest };
std::string_view split_name(Split split);  // "train", "dev", "test"

// English case-folded, placeholders removed, digit runs -> "0", only letters
// and digits kept: "Delete 3 files..." -> "delete0files", "Delete %d files" -> "deletefiles".
std::string english_key(std::string_view english);

// sha256("debian-l10n-v1\0" + key) as a big-endian number, mod 1000.
int split_bucket(const Sha256Digest& digest);
Sha256Digest english_key_digest(std::string_view key);
// bucket < 10 -> test, < 20 -> dev, else train.
Split split_of_bucket(int bucket);

struct SplitOptions {
  std::size_t max_dev_pairs = 2000;   // per language
  std::size_t max_test_pairs = 2000;  // per language
  std::size_t min_eval_english_words = 3;
};

struct LanguageSplits {
  std::vector<std::pair<std::string, std::string>> train, dev, test;  // (source, english)
};

// The split digest of one English string: english_key_digest(english_key(english)).
Sha256Digest english_digest(std::string_view english);
using EnglishDigestFn = std::function<Sha256Digest(const std::string& english)>;

// Splits one language's deduplicated pairs. dev/test keep pairs whose
// English has >= min_eval_english_words words and whose source is not also in
// train, lowest hash first, capped; what they drop is not moved to train.
// Train keeps the input order.
// `digest_of` may serve precomputed digests (the same English recurs in
// every language).
LanguageSplits split_pairs(std::vector<std::pair<std::string, std::string>> pairs, const SplitOptions& options,
                           const EnglishDigestFn& digest_of = [](const std::string& e) { return english_digest(e); });

}  // namespace moe::data
