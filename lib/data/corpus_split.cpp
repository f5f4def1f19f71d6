#include "data/corpus_split.h"

#include <algorithm>
#include <unordered_set>

#include "data/script.h"
#include "data/text_clean.h"
#include "util/utf8.h"

namespace moe::data {

std::string_view split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kDev: return "dev";
    case Split::kTest: return "test";
  }
  return "train";
}

std::string english_key(std::string_view english) {
  std::string key;
  bool in_digits = false;
  for (char32_t cp : utf8::decode(remove_placeholders(english))) {
    if (is_digit(cp)) {
      if (!in_digits) key += '0';
      in_digits = true;
      continue;
    }
    in_digits = false;
    if (is_letter(cp)) utf8::append(key, fold_case(cp));
  }
  return key;
}

Sha256Digest english_key_digest(std::string_view key) {
  std::string salted("debian-l10n-v1");
  salted += '\0';
  salted.append(key);
  return sha256(salted);
}

Sha256Digest english_digest(std::string_view english) { return english_key_digest(english_key(english)); }

int split_bucket(const Sha256Digest& digest) {
  unsigned remainder = 0;
  for (std::uint8_t byte : digest) remainder = (remainder * 256 + byte) % 1000;
  return static_cast<int>(remainder);
}

Split split_of_bucket(int bucket) { return bucket < 10 ? Split::kTest : bucket < 20 ? Split::kDev : Split::kTrain; }

namespace {
std::size_t word_count(std::string_view text) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}
}  // namespace

LanguageSplits split_pairs(std::vector<std::pair<std::string, std::string>> pairs, const SplitOptions& options,
                           const EnglishDigestFn& digest_of) {
  struct EvalCandidate {
    Sha256Digest digest;
    std::size_t index;
  };
  LanguageSplits out;
  std::vector<EvalCandidate> dev, test;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const Sha256Digest digest = digest_of(pairs[i].second);
    const Split split = split_of_bucket(split_bucket(digest));
    if (split == Split::kTrain) {
      out.train.push_back(std::move(pairs[i]));
    } else if (word_count(pairs[i].second) >= options.min_eval_english_words) {
      (split == Split::kDev ? dev : test).push_back({digest, i});
    }
  }
  std::unordered_set<std::string_view> train_sources;
  for (const auto& [source, english] : out.train) train_sources.insert(source);
  auto fill = [&](std::vector<EvalCandidate>& candidates, std::size_t cap,
                  std::vector<std::pair<std::string, std::string>>& into) {
    std::sort(candidates.begin(), candidates.end(), [](const EvalCandidate& a, const EvalCandidate& b) {
      return a.digest != b.digest ? a.digest < b.digest : a.index < b.index;
    });
    for (const auto& candidate : candidates) {
      if (into.size() >= cap) break;
      if (train_sources.count(pairs[candidate.index].first)) continue;
      into.push_back(std::move(pairs[candidate.index]));
    }
  };
  fill(dev, options.max_dev_pairs, out.dev);
  fill(test, options.max_test_pairs, out.test);
  return out;
}

}  // namespace moe::data
