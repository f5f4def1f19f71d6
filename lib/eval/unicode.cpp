#include "eval/unicode.h"

#include <algorithm>
#include <stdexcept>

#include "util/utf8.h"

namespace moe::eval {
namespace {

using unicode_data::CodePointRange;

bool in_ranges(const CodePointRange* ranges, std::size_t size, char32_t cp) {
  const CodePointRange* end = ranges + size;
  const CodePointRange* it = std::upper_bound(
      ranges, end, cp, [](char32_t value, const CodePointRange& r) { return value < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

bool is_cased(char32_t cp) {
  return in_ranges(unicode_data::kCasedRanges, unicode_data::kCasedRangesSize, cp);
}

bool is_case_ignorable(char32_t cp) {
  return in_ranges(unicode_data::kCaseIgnorableRanges, unicode_data::kCaseIgnorableRangesSize,
                   cp);
}

char32_t simple_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const auto* begin = unicode_data::kLowercasePairs;
  const auto* end = begin + unicode_data::kLowercasePairsSize;
  const auto* it = std::lower_bound(
      begin, end, cp, [](const unicode_data::LowercasePair& p, char32_t v) { return p.upper < v; });
  return (it != end && it->upper == cp) ? it->lower : cp;
}

// Python's Final_Sigma test: a cased letter before position i (skipping
// case-ignorables) and no cased letter after it (skipping case-ignorables).
bool is_final_sigma(std::u32string_view text, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(text[j - 1])) --j;
  if (j == 0 || !is_cased(text[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < text.size() && is_case_ignorable(text[k])) ++k;
  return k == text.size() || !is_cased(text[k]);
}

}  // namespace

UnicodeClass unicode_class(char32_t cp) {
  const auto* begin = unicode_data::kCategoryRanges;
  const auto* end = begin + unicode_data::kCategoryRangesSize;
  const auto* it = std::upper_bound(
      begin, end, cp,
      [](char32_t value, const unicode_data::CategoryRange& r) { return value < r.first; });
  if (it == begin || cp > (it - 1)->last) return UnicodeClass::kOther;
  return (it - 1)->cls;
}

bool is_python_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  const char32_t* end = unicode_data::kWhitespace + unicode_data::kWhitespaceSize;
  return std::binary_search(unicode_data::kWhitespace, end, cp);
}

std::u32string python_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    if (cp == U'\u0130') {
      out.push_back(U'i');
      out.push_back(U'\u0307');
    } else if (cp == U'\u03A3') {
      out.push_back(is_final_sigma(text, i) ? U'\u03C2' : U'\u03C3');
    } else {
      out.push_back(simple_lower(cp));
    }
  }
  return out;
}

std::u32string_view python_rstrip(std::u32string_view text) {
  std::size_t n = text.size();
  while (n > 0 && is_python_space(text[n - 1])) --n;
  return text.substr(0, n);
}

std::string_view python_rstrip_utf8(std::string_view utf8) {
  std::size_t n = utf8.size();
  while (n > 0) {
    // The last code point starts at the last byte that is not a continuation byte.
    std::size_t start = n - 1;
    while (start > 0 && n - start < 4 && (static_cast<unsigned char>(utf8[start]) & 0xC0) == 0x80) {
      --start;
    }
    char32_t cp = 0;
    try {
      const std::u32string decoded = utf8::decode(utf8.substr(start, n - start));
      if (decoded.size() != 1) break;
      cp = decoded[0];
    } catch (const std::invalid_argument&) {
      break;
    }
    if (!is_python_space(cp)) break;
    n = start;
  }
  return utf8.substr(0, n);
}

std::u32string collapse_python_whitespace(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for_each_python_word(text, [&](std::u32string_view word) {
    if (!out.empty()) out.push_back(U' ');
    out.append(word);
  });
  return out;
}

}  // namespace moe::eval
