#pragma once
// The pieces of Python's and the `regex` module's Unicode behaviour that
// sacreBLEU's metrics depend on (METRICS.md §1.2, §1.3, §2.2 intl). Tables are
// generated (scripts/gen_unicode_tables.py); see docs/eval.md for versions.
#include <string>
#include <string_view>

#include "eval/unicode_tables.h"

namespace moe::eval {

// General category class: N = Nd/Nl/No, P = Pc/Pd/Ps/Pe/Pi/Pf/Po, S = Sm/Sc/Sk/So
// (Unicode 15.0, as python3-regex on Debian 12), kOther for everything else.
UnicodeClass unicode_class(char32_t cp);

// Python's str.isspace(): the separators of str.split() with no arguments.
bool is_python_space(char32_t cp);

// Python's str.lower(): full lowercase mapping (U+0130 grows to "i\u0307") with
// the Final_Sigma rule for U+03A3. Returns a new string.
std::u32string python_lower(std::u32string_view text);

// str.rstrip() with no arguments: a view of `text` without trailing whitespace.
std::u32string_view python_rstrip(std::u32string_view text);
// The same on UTF-8 text (a view of `utf8`); stops at a malformed trailing sequence.
std::string_view python_rstrip_utf8(std::string_view utf8);

// str.split() with no arguments: views into `text` (which must outlive them).
template <typename Fn>
void for_each_python_word(std::u32string_view text, Fn&& on_word) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    while (i < n && is_python_space(text[i])) ++i;
    if (i == n) break;
    std::size_t j = i;
    while (j < n && !is_python_space(text[j])) ++j;
    on_word(text.substr(i, j - i));
    i = j;
  }
}

// " ".join(text.split()): whitespace runs collapsed to one ASCII space, ends trimmed.
std::u32string collapse_python_whitespace(std::u32string_view text);

}  // namespace moe::eval
