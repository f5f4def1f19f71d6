#include "eval/tokenizers.h"

#include <array>

#include "eval/unicode.h"
#include "util/error.h"

namespace moe::eval {
namespace {

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_period_or_comma(char32_t c) { return c == U'.' || c == U','; }

// The ASCII characters 13a's first rule pads with spaces (0x20-0x26, 0x28-0x2B,
// 0x2F, 0x3A-0x40, 0x5B-0x60, 0x7B-0x7E).
bool is_13a_padded_symbol(char32_t c) {
  return (c >= 0x20 && c <= 0x26) || (c >= 0x28 && c <= 0x2B) || c == 0x2F ||
         (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

void replace_all(std::u32string& text, std::u32string_view from, std::u32string_view to) {
  if (text.find(from) == std::u32string::npos) return;
  std::u32string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (std::size_t hit; (hit = text.find(from, pos)) != std::u32string::npos;) {
    out.append(text, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text, pos);
  text = std::move(out);
}

// One regex substitution `(X)(Y)` scanned left to right without overlap
// (METRICS.md §1.4): both characters of a match are consumed.
template <typename First, typename Second, typename Emit>
std::u32string substitute_pairs(std::u32string_view in, First first, Second second, Emit emit) {
  std::u32string out;
  out.reserve(in.size() + in.size() / 2);
  std::size_t i = 0;
  while (i < in.size()) {
    if (i + 1 < in.size() && first(in[i]) && second(in[i + 1])) {
      emit(out, in[i], in[i + 1]);
      i += 2;
    } else {
      out.push_back(in[i]);
      ++i;
    }
  }
  return out;
}

template <typename Pred>
std::u32string pad_each(std::u32string_view in, Pred pred) {
  std::u32string out;
  out.reserve(in.size() + in.size() / 2);
  for (char32_t c : in) {
    if (pred(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool not_digit(char32_t c) { return !is_ascii_digit(c); }

// Emits "a b " / " a b" / "a - " as the mteval substitutions write them.
void emit_first_then_spaced(std::u32string& out, char32_t a, char32_t b) {
  out.push_back(a);
  out.push_back(U' ');
  out.push_back(b);
  out.push_back(U' ');
}
void emit_spaced_then_second(std::u32string& out, char32_t a, char32_t b) {
  out.push_back(U' ');
  out.push_back(a);
  out.push_back(U' ');
  out.push_back(b);
}

// 13a's rules R2-R4: "." and "," split off unless between digits, "-" after a digit.
std::u32string apply_mteval_period_comma_dash_rules(std::u32string_view text) {
  std::u32string s = substitute_pairs(text, not_digit, is_period_or_comma, emit_first_then_spaced);
  s = substitute_pairs(s, is_period_or_comma, not_digit, emit_spaced_then_second);
  return substitute_pairs(s, is_ascii_digit, [](char32_t c) { return c == U'-'; },
                          emit_first_then_spaced);
}

// 13a's rules R1-R4 (shared with zh).
std::u32string apply_mteval_rules(std::u32string_view text) {
  return apply_mteval_period_comma_dash_rules(pad_each(text, is_13a_padded_symbol));
}

void unescape_basic_entities(std::u32string& s) {
  replace_all(s, U"&quot;", U"\"");
  replace_all(s, U"&amp;", U"&");
  replace_all(s, U"&lt;", U"<");
  replace_all(s, U"&gt;", U">");
}

std::u32string padded(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size() + 2);
  out.push_back(U' ');
  out.append(s);
  out.push_back(U' ');
  return out;
}

// tercom's asian_support tables (sacreBLEU's TercomTokenizer).
bool is_tercom_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x31C0 && c <= 0x31EF) || (c >= 0x2E80 && c <= 0x2EFF) ||
         (c >= 0x3300 && c <= 0x33FF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0x3200 && c <= 0x3F22);
}
bool is_tercom_asian_punct(char32_t c) {
  return c == 0x3001 || c == 0x3002 || (c >= 0x3008 && c <= 0x3011) ||
         (c >= 0x3014 && c <= 0x301F) || (c >= 0xFF61 && c <= 0xFF65) || c == 0x30FB;
}
bool is_tercom_full_width_punct(char32_t c) {
  switch (c) {
    case 0xFF0E: case 0xFF0C: case 0xFF1F: case 0xFF1A: case 0xFF1B:
    case 0xFF01: case 0xFF02: case 0xFF08: case 0xFF09:
      return true;
    default:
      return false;
  }
}
bool is_tercom_ascii_punct(char32_t c) {
  switch (c) {
    case U'.': case U',': case U'?': case U':': case U';': case U'!': case U'"': case U'(':
    case U')':
      return true;
    default:
      return false;
  }
}

// Every "'s " becomes " 's ", and a final "'s" becomes " 's".
std::u32string split_possessive_s(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const bool apostrophe_s = i + 1 < s.size() && s[i] == U'\'' && s[i + 1] == U's';
    if (apostrophe_s && (i + 2 == s.size() || s[i + 2] == U' ')) {
      out.append(U" 's");
      if (i + 2 < s.size()) out.push_back(U' ');
      i += (i + 2 < s.size()) ? 3 : 2;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
  return out;
}

}  // namespace

const char* tokenizer_name(Tokenizer tokenizer) {
  switch (tokenizer) {
    case Tokenizer::k13a: return "13a";
    case Tokenizer::kIntl: return "intl";
    case Tokenizer::kZh: return "zh";
    case Tokenizer::kChar: return "char";
    case Tokenizer::kNone: return "none";
  }
  return "?";
}

Tokenizer parse_tokenizer(std::string_view name) {
  for (Tokenizer t : {Tokenizer::k13a, Tokenizer::kIntl, Tokenizer::kZh, Tokenizer::kChar,
                      Tokenizer::kNone}) {
    if (name == tokenizer_name(t)) return t;
  }
  throw InputError("unknown tokenizer '" + std::string(name) +
                   "' (choose from 13a, intl, zh, char, none)");
}

std::u32string tokenize_13a(std::u32string_view line) {
  std::u32string s(line);
  replace_all(s, U"<skipped>", U"");
  replace_all(s, U"-\n", U"");
  replace_all(s, U"\n", U" ");
  if (s.find(U'&') != std::u32string::npos) unescape_basic_entities(s);
  return collapse_python_whitespace(apply_mteval_rules(padded(s)));
}

std::u32string tokenize_intl(std::u32string_view line) {
  auto is_number = [](char32_t c) { return unicode_class(c) == UnicodeClass::kNumber; };
  auto not_number = [&](char32_t c) { return !is_number(c); };
  auto is_punct = [](char32_t c) { return unicode_class(c) == UnicodeClass::kPunctuation; };
  std::u32string s = substitute_pairs(line, not_number, is_punct, emit_first_then_spaced);
  s = substitute_pairs(s, is_punct, not_number, emit_spaced_then_second);
  s = pad_each(s, [](char32_t c) { return unicode_class(c) == UnicodeClass::kSymbol; });
  return collapse_python_whitespace(s);
}

bool is_zh_tokenizer_char(char32_t c) {
  static constexpr std::array<std::pair<char32_t, char32_t>, 13> kRanges = {{
      {0x2001, 0x2A6D}, {0x2E80, 0x2FDF}, {0x2FF0, 0x303F}, {0x3100, 0x312F},
      {0x31A0, 0x31EF}, {0x3200, 0x4DB5}, {0x4E00, 0x9FBB}, {0xF900, 0xFA2D},
      {0xFA30, 0xFA6A}, {0xFA70, 0xFAD9}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F},
      {0xFF00, 0xFFEF},
  }};
  if (c < 0x2001 || c > 0xFFEF) return false;
  for (const auto& [first, last] : kRanges) {
    if (c >= first && c <= last) return true;
  }
  return false;
}

std::u32string tokenize_zh(std::u32string_view line) {
  std::u32string_view stripped = python_rstrip(line);
  std::size_t start = 0;
  while (start < stripped.size() && is_python_space(stripped[start])) ++start;
  stripped.remove_prefix(start);
  const std::u32string spaced = pad_each(stripped, is_zh_tokenizer_char);
  return collapse_python_whitespace(apply_mteval_rules(spaced));
}

std::u32string tokenize_char(std::u32string_view line) {
  std::u32string out;
  out.reserve(line.size() * 2);
  for (char32_t c : line) {
    if (is_python_space(c)) continue;
    if (!out.empty()) out.push_back(U' ');
    out.push_back(c);
  }
  return out;
}

std::u32string tokenize(std::u32string_view line, Tokenizer tokenizer) {
  switch (tokenizer) {
    case Tokenizer::k13a: return tokenize_13a(line);
    case Tokenizer::kIntl: return tokenize_intl(line);
    case Tokenizer::kZh: return tokenize_zh(line);
    case Tokenizer::kChar: return tokenize_char(line);
    case Tokenizer::kNone: return std::u32string(line);
  }
  return std::u32string(line);
}

std::u32string tokenize_tercom(std::u32string_view line, const TercomOptions& options) {
  if (line.empty()) return {};
  std::u32string s = options.case_sensitive ? std::u32string(line) : python_lower(line);
  if (options.normalized) {
    replace_all(s, U"\n-", U"");
    replace_all(s, U"\n", U" ");
    unescape_basic_entities(s);
    s = pad_each(padded(s), is_13a_padded_symbol);
    s = apply_mteval_period_comma_dash_rules(split_possessive_s(s));
    if (options.asian_support) {
      s = pad_each(s, is_tercom_cjk);
      s = pad_each(s, [](char32_t c) {
        return is_tercom_asian_punct(c) || is_tercom_full_width_punct(c);
      });
    }
  }
  if (options.no_punct) {
    std::u32string kept;
    kept.reserve(s.size());
    for (char32_t c : s) {
      const bool asian = options.asian_support &&
                         (is_tercom_asian_punct(c) || is_tercom_full_width_punct(c));
      if (!is_tercom_ascii_punct(c) && !asian) kept.push_back(c);
    }
    s = std::move(kept);
  }
  return collapse_python_whitespace(s);
}

}  // namespace moe::eval
