#include "data/nfc.h"

#include <algorithm>

#include "data/nfc_tables.h"
#include "util/utf8.h"

namespace moe::data {
namespace {

// Hangul syllables compose and decompose arithmetically (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto* begin = nfc_data::kCombiningClasses;
  const auto* end = begin + nfc_data::kCombiningClassesSize;
  const auto* it = std::upper_bound(begin, end, cp, [](char32_t c, const auto& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->combining_class : 0;
}

void decompose_into(char32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t index = cp - kSBase;
    out += kLBase + index / kNCount;
    out += kVBase + (index % kNCount) / kTCount;
    if (index % kTCount != 0) out += kTBase + index % kTCount;
    return;
  }
  const auto* begin = nfc_data::kDecompositions;
  const auto* end = begin + nfc_data::kDecompositionsSize;
  const auto* it = std::lower_bound(begin, end, cp, [](const auto& d, char32_t c) { return d.code_point < c; });
  if (it == end || it->code_point != cp) {
    out += cp;
    return;
  }
  decompose_into(it->first, out);
  if (it->second != 0) decompose_into(it->second, out);
}

// The primary composite of (first, second), or 0.
char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount)
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 && second > kTBase &&
      second < kTBase + kTCount)
    return first + (second - kTBase);
  const auto* begin = nfc_data::kCompositions;
  const auto* end = begin + nfc_data::kCompositionsSize;
  const auto* it = std::lower_bound(begin, end, std::make_pair(first, second), [](const auto& c, const auto& key) {
    return c.first != key.first ? c.first < key.first : c.second < key.second;
  });
  return (it != end && it->first == first && it->second == second) ? it->composite : 0;
}

std::u32string nfc(const std::u32string& input) {
  std::u32string decomposed;
  decomposed.reserve(input.size() + 8);
  for (char32_t cp : input) decompose_into(cp, decomposed);
  // Canonical ordering: stable-sort each run of non-starters by class.
  for (std::size_t i = 0; i < decomposed.size();) {
    if (combining_class(decomposed[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < decomposed.size() && combining_class(decomposed[j]) != 0) ++j;
    std::stable_sort(decomposed.begin() + static_cast<long>(i), decomposed.begin() + static_cast<long>(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // Canonical composition: each character joins the last starter unless a
  // character of the same or a zero class stands between them ("blocked").
  std::u32string out;
  out.reserve(decomposed.size());
  std::size_t starter = std::u32string::npos;
  int last_class = 0;  // class of the last character appended
  for (char32_t cp : decomposed) {
    const int cls = combining_class(cp);
    if (starter != std::u32string::npos && (last_class < cls || last_class == 0)) {
      if (const char32_t composite = compose_pair(out[starter], cp); composite != 0) {
        out[starter] = composite;
        continue;
      }
    }
    if (cls == 0) starter = out.size();
    last_class = cls;
    out += cp;
  }
  return out;
}

bool may_need_normalizing(std::string_view text) {
  // Below U+0300 nothing decomposes or combines: plain ASCII and Latin-1 text
  // is already NFC.
  for (unsigned char c : text)
    if (c >= 0xCC) return true;
  return false;
}

}  // namespace

std::string normalize_nfc(std::string_view text) {
  if (!may_need_normalizing(text)) return std::string(text);
  return utf8::encode(nfc(utf8::decode(text)));
}

bool is_nfc(std::string_view text) { return normalize_nfc(text) == text; }

const char* nfc_unicode_version() { return nfc_data::kUnicodeVersion; }

}  // namespace moe::data
