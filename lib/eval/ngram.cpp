#include "eval/ngram.h"

#include <algorithm>

namespace moe::eval {
namespace {

constexpr int kPackedSymbols = 4;

NgramRun make_run(const std::uint32_t* start, int order) {
  NgramRun run;
  run.start = start;
  run.count = 1;
  const int packed = std::min(order, kPackedSymbols);
  std::uint64_t words[2] = {0, 0};
  for (int k = 0; k < packed; ++k) {
    words[k / 2] |= static_cast<std::uint64_t>(start[k]) << (k % 2 == 0 ? 32 : 0);
  }
  run.key_high = words[0];
  run.key_low = words[1];
  return run;
}

// Three-way comparison of two n-grams of the same order.
int compare(const NgramRun& a, const NgramRun& b, int order) {
  if (a.key_high != b.key_high) return a.key_high < b.key_high ? -1 : 1;
  if (a.key_low != b.key_low) return a.key_low < b.key_low ? -1 : 1;
  for (int k = kPackedSymbols; k < order; ++k) {
    if (a.start[k] != b.start[k]) return a.start[k] < b.start[k] ? -1 : 1;
  }
  return 0;
}

}  // namespace

void collect_ngrams(std::span<const std::uint32_t> sequence, int order, NgramBag& bag) {
  bag.order = order;
  bag.runs.clear();
  const std::int64_t length = static_cast<std::int64_t>(sequence.size());
  bag.total = std::max<std::int64_t>(0, length - order + 1);
  if (bag.total == 0) return;
  for (std::int64_t i = 0; i < bag.total; ++i) bag.runs.push_back(make_run(&sequence[i], order));
  std::sort(bag.runs.begin(), bag.runs.end(),
            [order](const NgramRun& a, const NgramRun& b) { return compare(a, b, order) < 0; });
  std::size_t out = 0;
  for (std::size_t i = 1; i < bag.runs.size(); ++i) {
    if (compare(bag.runs[out], bag.runs[i], order) == 0) {
      ++bag.runs[out].count;
    } else {
      bag.runs[++out] = bag.runs[i];
    }
  }
  bag.runs.resize(out + 1);
}

std::int64_t clipped_matches(const NgramBag& a, const NgramBag& b) {
  std::int64_t matches = 0;
  std::size_t i = 0, j = 0;
  while (i < a.runs.size() && j < b.runs.size()) {
    const int c = compare(a.runs[i], b.runs[j], a.order);
    if (c < 0) {
      ++i;
    } else if (c > 0) {
      ++j;
    } else {
      matches += std::min(a.runs[i].count, b.runs[j].count);
      ++i;
      ++j;
    }
  }
  return matches;
}

void merge_max_counts(NgramBag& acc, const NgramBag& other) {
  std::vector<NgramRun> merged;
  merged.reserve(acc.runs.size() + other.runs.size());
  std::size_t i = 0, j = 0;
  while (i < acc.runs.size() || j < other.runs.size()) {
    const int c = i == acc.runs.size()     ? 1
                  : j == other.runs.size() ? -1
                                           : compare(acc.runs[i], other.runs[j], acc.order);
    if (c < 0) {
      merged.push_back(acc.runs[i++]);
    } else if (c > 0) {
      merged.push_back(other.runs[j++]);
    } else {
      merged.push_back(acc.runs[i]);
      merged.back().count = std::max(acc.runs[i].count, other.runs[j].count);
      ++i;
      ++j;
    }
  }
  acc.runs = std::move(merged);
  acc.total = std::max(acc.total, other.total);
}

std::uint32_t TokenVocab::id(std::u32string_view token) {
  auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  const auto next = static_cast<std::uint32_t>(ids_.size());
  ids_.emplace(std::u32string(token), next);
  return next;
}

}  // namespace moe::eval
