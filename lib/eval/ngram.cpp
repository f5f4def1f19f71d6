#include "eval/ngram.h"

#include <algorithm>

#include "util/rng.h"

namespace moe::eval {

void NgramMatcher::pack(const std::uint32_t* start, std::uint64_t& high, std::uint64_t& low) const {
  // Symbols fill `high` first, then `low`, each word holding 64 / bits_ symbols.
  const int per_word = 64 / bits_;
  const int packed = std::min(order_, packed_symbols_);
  high = 0;
  low = 0;
  for (int k = 0; k < packed; ++k) {
    std::uint64_t& word = k < per_word ? high : low;
    word = (word << bits_) | start[k];
  }
}

bool NgramMatcher::same_tail(const std::uint32_t* a, const std::uint32_t* b) const {
  for (int k = packed_symbols_; k < order_; ++k) {
    if (a[k] != b[k]) return false;
  }
  return true;
}

NgramMatcher::Entry* NgramMatcher::find(const std::uint32_t* start, std::uint64_t high,
                                        std::uint64_t low) {
  std::uint64_t slot = mix64(high ^ mix64(low)) & mask_;
  for (;; slot = (slot + 1) & mask_) {
    Entry& e = table_[slot];
    if (e.start == nullptr) return &e;
    if (e.key_high == high && e.key_low == low && same_tail(e.start, start)) return &e;
  }
}

void NgramMatcher::load_hypothesis(std::span<const std::uint32_t> hypothesis, int order,
                                   SymbolWidth width) {
  for (std::uint32_t slot : used_slots_) table_[slot] = Entry{};
  used_slots_.clear();
  order_ = order;
  bits_ = static_cast<int>(width);
  packed_symbols_ = 2 * (64 / bits_);
  const auto length = static_cast<std::int64_t>(hypothesis.size());
  hypothesis_total_ = std::max<std::int64_t>(0, length - order + 1);
  // Keep the load factor at most 1/2 so probes stay short.
  std::size_t capacity = 16;
  while (capacity < 2 * static_cast<std::size_t>(hypothesis_total_) + 2) capacity *= 2;
  if (capacity > table_.size()) {
    table_.assign(capacity, Entry{});
    mask_ = capacity - 1;
  }
  for (std::int64_t i = 0; i < hypothesis_total_; ++i) {
    const std::uint32_t* start = hypothesis.data() + i;
    std::uint64_t high, low;
    pack(start, high, low);
    Entry* e = find(start, high, low);
    if (e->start == nullptr) {
      e->key_high = high;
      e->key_low = low;
      e->start = start;
      used_slots_.push_back(static_cast<std::uint32_t>(e - table_.data()));
    }
    ++e->hyp_count;
  }
}

std::int64_t NgramMatcher::match_reference(std::span<const std::uint32_t> reference,
                                           std::int64_t* reference_total) {
  const auto length = static_cast<std::int64_t>(reference.size());
  const std::int64_t total = std::max<std::int64_t>(0, length - order_ + 1);
  *reference_total = total;
  if (used_slots_.empty()) return 0;
  std::int64_t matches = 0;
  touched_slots_.clear();
  for (std::int64_t i = 0; i < total; ++i) {
    const std::uint32_t* start = reference.data() + i;
    std::uint64_t high, low;
    pack(start, high, low);
    Entry* e = find(start, high, low);
    if (e->start == nullptr) continue;  // not a hypothesis n-gram
    if (e->ref_count == 0) touched_slots_.push_back(static_cast<std::uint32_t>(e - table_.data()));
    if (++e->ref_count <= e->hyp_count) ++matches;
  }
  for (std::uint32_t slot : touched_slots_) {
    Entry& e = table_[slot];
    e.max_ref_count = std::max(e.max_ref_count, e.ref_count);
    e.ref_count = 0;
  }
  return matches;
}

std::int64_t NgramMatcher::clipped_against_max_reference() const {
  std::int64_t matches = 0;
  for (std::uint32_t slot : used_slots_) {
    matches += std::min(table_[slot].hyp_count, table_[slot].max_ref_count);
  }
  return matches;
}

std::uint32_t TokenVocab::id(std::u32string_view token) {
  auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  const auto next = static_cast<std::uint32_t>(ids_.size());
  ids_.emplace(std::u32string(token), next);
  return next;
}

}  // namespace moe::eval
