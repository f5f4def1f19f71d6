#pragma once
// Exact n-gram multisets over integer symbols (token ids or code points), used
// by BLEU and chrF. An n-gram is keyed by its first four symbols packed into
// two 64-bit words, so comparing two n-grams is two integer compares; only
// n-grams longer than four symbols with equal keys compare the rest of the span.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe::eval {

// One distinct n-gram of a sequence and how often it occurs there. `start`
// points into the sequence it came from, which must outlive the bag.
struct NgramRun {
  std::uint64_t key_high = 0;
  std::uint64_t key_low = 0;
  const std::uint32_t* start = nullptr;
  std::int32_t count = 0;
};

// The n-grams of one order of one sequence, sorted by n-gram, each once.
struct NgramBag {
  int order = 0;
  std::int64_t total = 0;  // number of n-gram occurrences (sequence length - order + 1, or 0)
  std::vector<NgramRun> runs;
};

// Fills `bag` with the order-n n-grams of `sequence` (reusing its storage).
void collect_ngrams(std::span<const std::uint32_t> sequence, int order, NgramBag& bag);

// Σ_g min(count_a(g), count_b(g)): the clipped matches of a against b.
std::int64_t clipped_matches(const NgramBag& a, const NgramBag& b);

// acc(g) = max(acc(g), other(g)) for every g: merges several references.
void merge_max_counts(NgramBag& acc, const NgramBag& other);

// Maps tokens (code point strings) to dense ids; ids are only comparable
// within one vocabulary.
class TokenVocab {
 public:
  std::uint32_t id(std::u32string_view token);
  std::size_t size() const { return ids_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::u32string_view s) const {
      return std::hash<std::u32string_view>{}(s);
    }
  };
  std::unordered_map<std::u32string, std::uint32_t, Hash, std::equal_to<>> ids_;
};

}  // namespace moe::eval
