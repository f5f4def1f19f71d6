#pragma once
// Exact n-gram matching between one hypothesis and its references, over integer
// symbols (token ids or code points), used by BLEU and chrF.
//
// The hypothesis n-grams of one order go into an open-addressing hash table;
// each reference n-gram is then one lookup. An n-gram's key packs its first
// symbols into 128 bits (4 word ids of 32 bits, or 6 code points of 21 bits),
// so keys are exact; longer n-grams compare their remaining symbols too.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe::eval {

// Bits each symbol needs: word ids are 32-bit, code points fit in 21 bits.
enum class SymbolWidth { kWordId = 32, kCodePoint = 21 };

class NgramMatcher {
 public:
  // Loads the order-n n-grams of `hypothesis` (which must stay alive and
  // unchanged until the next load) and forgets earlier references.
  void load_hypothesis(std::span<const std::uint32_t> hypothesis, int order, SymbolWidth width);

  // Hypothesis n-gram occurrences: max(0, length - order + 1).
  std::int64_t hypothesis_total() const { return hypothesis_total_; }

  // Matches one reference: returns Σ_g min(count_hyp(g), count_ref(g)) and sets
  // *reference_total to the reference's n-gram occurrences. Also remembers, per
  // hypothesis n-gram, the largest count seen in any reference since the load.
  std::int64_t match_reference(std::span<const std::uint32_t> reference,
                               std::int64_t* reference_total);

  // Σ_g min(count_hyp(g), max over matched references of count_ref(g)): BLEU's
  // clipped matches with several references.
  std::int64_t clipped_against_max_reference() const;

 private:
  struct Entry {
    std::uint64_t key_high = 0;
    std::uint64_t key_low = 0;
    const std::uint32_t* start = nullptr;  // nullptr: empty slot
    std::int32_t hyp_count = 0;
    std::int32_t ref_count = 0;      // in the reference being matched
    std::int32_t max_ref_count = 0;  // over the references matched so far
  };

  void pack(const std::uint32_t* start, std::uint64_t& high, std::uint64_t& low) const;
  Entry* find(const std::uint32_t* start, std::uint64_t high, std::uint64_t low);
  bool same_tail(const std::uint32_t* a, const std::uint32_t* b) const;

  std::vector<Entry> table_;
  std::vector<std::uint32_t> used_slots_;
  std::vector<std::uint32_t> touched_slots_;
  std::uint64_t mask_ = 0;
  int order_ = 0;
  int bits_ = 32;
  int packed_symbols_ = 4;
  std::int64_t hypothesis_total_ = 0;
};

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
