#include "data/text_clean.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <unordered_set>

#include "data/language_code.h"
#include "data/nfc.h"
#include "data/script.h"
#include "util/utf8.h"

namespace moe::data {
namespace {

bool is_ascii_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_ascii_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
// An accelerator marks the character after it: an ASCII letter/digit or any
// non-ASCII character (the lead byte of a UTF-8 sequence).
bool is_accelerated(char c) { return is_ascii_alnum(c) || static_cast<unsigned char>(c) >= 0xC0; }

// U+FDD0..U+FDEF and the last two code points of every plane: never text.
bool is_noncharacter(char32_t cp) {
  return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

// Length of an HTML entity ("&amp;", "&#233;", "&#xE9;") starting at s[i], or 0.
std::size_t entity_length(std::string_view s, std::size_t i) {
  if (i >= s.size() || s[i] != '&') return 0;
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    const std::size_t digits = j;
    while (j < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) != 0 : is_ascii_digit(s[j]))) ++j;
    if (j == digits) return 0;
  } else {
    const std::size_t letters = j;
    while (j < s.size() && is_ascii_alnum(s[j])) ++j;
    if (j == letters) return 0;
  }
  return j < s.size() && s[j] == ';' ? j + 1 - i : 0;
}

// Counts "_X" accelerators (an underscore before a letter or digit that does
// not join two word characters, as in "snake_case").
int count_underscore_marks(std::string_view s) {
  int count = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != '_' || !is_accelerated(s[i + 1])) continue;
    ++count;
  }
  return count;
}

const std::unordered_set<std::string_view>& known_tags() {
  static const std::unordered_set<std::string_view> tags = {
      // Pango / HTML
      "a", "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
      "font", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "html", "i", "img", "kbd", "li",
      "nobr", "ol", "p", "pre", "s", "samp", "small", "span", "strike", "strong", "sub", "sup",
      "table", "td", "th", "tr", "tt", "u", "ul", "var", "markup", "qt", "section", "header",
      "footer", "caption", "thead", "tbody", "tfoot",
      // KDE KUIT
      "application", "bcode", "command", "email", "emphasis", "envar", "filename", "icode",
      "interface", "link", "message", "nl", "note", "numid", "para", "placeholder", "resource",
      "shortcut", "subtitle", "title", "warning", "list", "item", "tip", "label",
      // DocBook-ish UI markup in GNOME help strings
      "guimenu", "guimenuitem", "guibutton", "guilabel", "literal", "keycap", "accel", "menuchoice"};
  return tags;
}

// Tags that break lines or open/close a block: removing them must leave a space.
const std::unordered_set<std::string_view>& block_tags() {
  static const std::unordered_set<std::string_view> tags = {
      "br", "p", "nl", "li", "para", "h1", "h2", "h3", "h4", "h5", "h6", "div", "title", "subtitle",
      "table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th", "ul", "ol", "dl", "dt", "dd",
      "blockquote", "pre", "hr", "center", "section", "header", "footer", "html", "head", "body",
      "list", "item"};
  return tags;
}

void decode_entities_into(std::string_view s, std::string& out) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = entity_length(s, i);
    if (len == 0) {
      out += s[i++];
      continue;
    }
    const std::string_view name = s.substr(i + 1, len - 2);
    char32_t cp = 0;
    if (name == "lt") cp = '<';
    else if (name == "gt") cp = '>';
    else if (name == "amp") cp = '&';
    else if (name == "quot") cp = '"';
    else if (name == "apos") cp = '\'';
    else if (name == "nbsp") cp = ' ';
    else if (name == "mdash") cp = 0x2014;
    else if (name == "ndash") cp = 0x2013;
    else if (name == "hellip") cp = 0x2026;
    else if (name == "laquo") cp = 0x00AB;
    else if (name == "raquo") cp = 0x00BB;
    else if (name == "ldquo") cp = 0x201C;
    else if (name == "rdquo") cp = 0x201D;
    else if (name == "lsquo") cp = 0x2018;
    else if (name == "rsquo") cp = 0x2019;
    else if (name == "bull") cp = 0x2022;
    else if (name == "middot") cp = 0x00B7;
    else if (name == "times") cp = 0x00D7;
    else if (name == "copy") cp = 0x00A9;
    else if (name == "reg") cp = 0x00AE;
    else if (name == "trade") cp = 0x2122;
    else if (name[0] == '#') {
      const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
      const std::string digits(name.substr(hex ? 2 : 1));
      // Seven hex or eight decimal digits already exceed U+10FFFF (and would overflow stoul).
      const std::size_t significant =
          digits.size() - std::min(digits.find_first_not_of('0'), digits.size());
      const unsigned long value =
          significant > (hex ? 6u : 7u) ? 0x110000 : std::stoul(digits, nullptr, hex ? 16 : 10);
      // A number that names no character (U+0000, a surrogate, a noncharacter, beyond
      // U+10FFFF) is dropped; one for a control character is decoded here and removed by
      // the remove_invisible() pass that follows the decoding (clean_pair).
      if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF) ||
          is_noncharacter(static_cast<char32_t>(value))) {
        i += len;
        continue;
      }
      cp = static_cast<char32_t>(value);
    }
    if (cp == 0) {
      out.append(s.substr(i, len));  // an entity we do not know stays as written
    } else {
      utf8::append(out, cp);
    }
    i += len;
  }
}

// Length of a placeholder starting at s[i], or 0.
std::size_t placeholder_length(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  const char c = s[i];
  if (c == '%' && i + 1 < n) {
    std::size_t j = i + 1;
    if (s[j] == '(') {  // %(name)s
      const std::size_t close = s.find(')', j);
      if (close != std::string_view::npos && close + 1 < n && is_ascii_alpha(s[close + 1]) && close - j < 40)
        return close + 2 - i;
      return 0;
    }
    if (is_ascii_upper(s[j])) {  // %NAME%
      std::size_t k = j;
      while (k < n && (is_ascii_upper(s[k]) || is_ascii_digit(s[k]) || s[k] == '_')) ++k;
      if (k < n && s[k] == '%' && k - j >= 2) return k + 1 - i;
    }
    if (s[j] == 'L' && j + 1 < n && is_ascii_digit(s[j + 1])) ++j;  // Qt %L1
    if (is_ascii_digit(s[j]) && s[j] != '0') {  // Qt %1 (printf widths start after flags, see below)
      std::size_t k = j;
      while (k < n && is_ascii_digit(s[k])) ++k;
      if (k >= n || !is_ascii_alpha(s[k]) || std::string_view("diouxXeEfFgGcsp").find(s[k]) == std::string_view::npos)
        return k - i;
    }
    // printf: flags, width, precision, length, conversion.
    while (j < n && std::string_view("-+#0'").find(s[j]) != std::string_view::npos) ++j;
    while (j < n && (is_ascii_digit(s[j]) || s[j] == '*')) ++j;
    if (j < n && s[j] == '.') {
      ++j;
      while (j < n && (is_ascii_digit(s[j]) || s[j] == '*')) ++j;
    }
    while (j < n && std::string_view("hlLqjztI").find(s[j]) != std::string_view::npos) ++j;
    if (j < n && std::string_view("diouxXeEfFgGaAcspn").find(s[j]) != std::string_view::npos) return j + 1 - i;
    return 0;
  }
  if (c == '{' && i + 1 < n) {  // {0} {$x}
    std::size_t j = i + 1;
    if (s[j] == '$') ++j;
    const std::size_t start = j;
    const bool digits = is_ascii_digit(s[j]);
    while (j < n && (digits ? is_ascii_digit(s[j]) : (is_ascii_alnum(s[j]) || s[j] == '_' || s[j] == '-'))) ++j;
    if (j > start && j < n && s[j] == '}' && (digits || s[i + 1] == '$')) return j + 1 - i;
    return 0;
  }
  if (c == '$' && i + 1 < n) {
    if (s[i + 1] == '{') {  // ${x}
      const std::size_t close = s.find('}', i + 2);
      if (close != std::string_view::npos && close > i + 2 && close - i < 40) {
        const std::string_view name = s.substr(i + 2, close - i - 2);
        if (std::all_of(name.begin(), name.end(), [](char ch) { return is_ascii_alnum(ch) || ch == '_'; }))
          return close + 1 - i;
      }
      return 0;
    }
    std::size_t k = i + 1;  // $NAME$
    while (k < n && (is_ascii_upper(s[k]) || is_ascii_digit(s[k]) || s[k] == '_')) ++k;
    if (k < n && s[k] == '$' && k - i - 1 >= 2 && is_ascii_upper(s[i + 1])) return k + 1 - i;
    return 0;
  }
  if (c == '~' && i + 1 < n && std::string_view("asdAS").find(s[i + 1]) != std::string_view::npos &&
      (i + 2 == n || !is_ascii_alpha(s[i + 2]))) {  // Scheme/Lisp format: ~a ~s (GnuCash)
    return 2;
  }
  if (c == '#' && i + 1 < n && is_ascii_digit(s[i + 1]) && (i == 0 || !is_ascii_alnum(s[i - 1]))) {  // #1
    std::size_t k = i + 1;
    while (k < n && is_ascii_digit(s[k])) ++k;
    return k - i;
  }
  return 0;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line = collapse_spaces(text.substr(start, end - start));
    if (!line.empty()) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> folded_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (char32_t cp : utf8::decode(text)) {
    if (is_letter(cp) || is_digit(cp)) {
      utf8::append(current, fold_case(cp));
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

}  // namespace

bool uses_underscore_accelerators(const std::vector<std::string>& msgids) {
  if (msgids.empty()) return false;
  std::size_t marked = 0;
  for (const auto& id : msgids)
    if (count_underscore_marks(id) == 1 && !is_identifier_like(id)) ++marked;
  return marked * 200 >= msgids.size();
}

bool has_replacement_char(std::string_view text) { return text.find("\xEF\xBF\xBD") != std::string_view::npos; }

bool has_mojibake(std::string_view text) {
  // UTF-8 read as Latin-1 and re-encoded: U+00C2/U+00C3 followed by U+0080..U+00BF.
  for (std::size_t i = 0; i + 3 < text.size(); ++i) {
    if (text[i] != '\xC3' || (text[i + 1] != '\x82' && text[i + 1] != '\x83')) continue;
    if (text[i + 2] == '\xC2' && static_cast<unsigned char>(text[i + 3]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 3]) <= 0xBF)
      return true;
  }
  return false;
}

std::string remove_invisible(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : utf8::decode(text)) {
    if (cp == '\n' || cp == 0x2028 || cp == 0x2029) {  // LINE / PARAGRAPH SEPARATOR break lines too
      out += '\n';
    } else if (cp == '\t' || cp == 0x00A0 || cp == 0x2007 || cp == 0x202F) {
      out += ' ';
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFEFF || cp == 0x00AD || cp == 0x200B ||
               cp == 0x2060 || cp == 0x200E || cp == 0x200F || is_noncharacter(cp)) {
      continue;
    } else {
      utf8::append(out, cp);
    }
  }
  return out;
}

std::string resolve_kde_transcript(std::string_view text) {
  const std::size_t at = text.find("|/|");
  return std::string(at == std::string_view::npos ? text : text.substr(0, at));
}

std::string expand_product_name(std::string_view text) {
  static constexpr std::string_view kName = "%PRODUCTNAME";
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, kName.size()) == kName) {
      out += "LibreOffice";
      i += kName.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string remove_literal_newline_escapes(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n' &&
        (i + 2 == text.size() || text[i + 2] == '\n')) {
      ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

std::string strip_accelerators(std::string_view text, const AcceleratorMarks& marks) {
  // CJK-style "(_F)" suffixes go first: the letter is not part of the text.
  std::string without_suffix;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '(' && i + 3 < text.size() && (text[i + 1] == '_' || text[i + 1] == '&' || text[i + 1] == '~') &&
        is_ascii_alnum(text[i + 2]) && text[i + 3] == ')') {
      i += 4;
      continue;
    }
    without_suffix += text[i++];
  }
  // Outside underscore catalogs, a lone "_X" that opens a word is still an
  // accelerator ("_Cancel" in a catalog of mostly plain strings).
  const int underscore_marks = count_underscore_marks(without_suffix);
  const std::size_t first_underscore = without_suffix.find('_');
  const bool word_initial = first_underscore != std::string::npos &&
                            (first_underscore == 0 || without_suffix[first_underscore - 1] == ' ');
  const bool one_underscore = underscore_marks == 1 && (marks.underscore || word_initial);
  std::string out;
  out.reserve(without_suffix.size());
  const std::string_view s = without_suffix;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool has_next = i + 1 < s.size();
    if (c == '&' && marks.ampersand) {
      if (has_next && s[i + 1] == '&') {
        out += '&';
        ++i;
        continue;
      }
      if (const std::size_t len = entity_length(s, i); len > 0) {
        out.append(s.substr(i, len));
        i += len - 1;
        continue;
      }
      if (has_next && is_accelerated(s[i + 1])) continue;
    } else if (c == '_' && one_underscore && has_next && is_accelerated(s[i + 1])) {
      continue;
    } else if (c == '~' && marks.tilde && has_next && is_accelerated(s[i + 1])) {
      continue;
    }
    out += c;
  }
  return out;
}

static std::string strip_markup_once(std::string_view text) {
  std::string without_tags;
  without_tags.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '<') {
      without_tags += text[i];
      continue;
    }
    const std::size_t close = text.find('>', i + 1);
    const std::size_t next_open = text.find('<', i + 1);
    if (close == std::string_view::npos || (next_open != std::string_view::npos && next_open < close)) {
      without_tags += text[i];
      continue;
    }
    std::string_view inner = text.substr(i + 1, close - i - 1);
    const bool closing = !inner.empty() && inner.front() == '/';
    const bool self_closing = !inner.empty() && inner.back() == '/';
    if (closing) inner.remove_prefix(1);
    if (self_closing) inner.remove_suffix(1);
    while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);  // "<br />"
    std::size_t name_end = 0;
    while (name_end < inner.size() && (is_ascii_alnum(inner[name_end]) || inner[name_end] == ':' || inner[name_end] == '-'))
      ++name_end;
    if (name_end == 0 || !is_ascii_alpha(inner[0])) {  // "<", "< 5", "<->": not a tag
      without_tags += text[i];
      continue;
    }
    std::string name(inner.substr(0, name_end));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const bool has_attributes = name_end < inner.size() && inner[name_end] == ' ' &&
                                inner.find('=', name_end) != std::string_view::npos;
    const bool rest_is_clean = name_end == inner.size() || has_attributes;
    if (!rest_is_clean) {  // "<file name>" in a usage text: keep
      without_tags += text[i];
      continue;
    }
    if (closing || self_closing || has_attributes || known_tags().count(name)) {
      // A line-break or block-level tag separates words ("Help</h1>Documentation").
      if (block_tags().count(name)) without_tags += ' ';
      i = close;
      continue;
    }
    without_tags += text[i];
  }
  std::string out;
  out.reserve(without_tags.size());
  decode_entities_into(without_tags, out);
  return out;
}

std::string strip_markup(std::string_view text) {
  // Some catalogs escape their markup ("&lt;br /&gt;", "&amp;mdash;"): a
  // second pass removes what the first pass's decoding revealed.
  const std::string once = strip_markup_once(text);
  return once.find('<') == std::string::npos && once.find('&') == std::string::npos ? once : strip_markup_once(once);
}

std::string normalise_positional_printf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] != '%') continue;
    if (i + 1 < text.size() && text[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < text.size() && is_ascii_digit(text[j])) ++j;
    if (j > i + 1 && j < text.size() && text[j] == '$') i = j;  // drop "N$"
  }
  return out;
}

std::vector<std::string> placeholders(std::string_view text) {
  std::vector<std::string> found;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '%') {
      i += 2;
      continue;
    }
    if (const std::size_t len = placeholder_length(text, i); len > 0) {
      found.emplace_back(text.substr(i, len));
      i += len;
    } else {
      ++i;
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string remove_placeholders(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t len = placeholder_length(text, i); len > 0) {
      out += ' ';
      i += len;
    } else {
      out += text[i++];
    }
  }
  return out;
}

bool is_identifier_like(std::string_view english) {
  if (english.empty() || english.find(' ') != std::string_view::npos) return false;
  // A path ("/usr/share", "~/.config", "./configure") is a key; "Input/Output", "TCP/IP" and
  // the one-level menu paths of Pidgin ("/Tools", translated as words) are not.
  const auto starts_with = [&](std::string_view prefix) {
    return english.substr(0, prefix.size()) == prefix;
  };
  const std::size_t second_slash = english.find('/', 1);
  const bool rooted_path = starts_with("/") && second_slash != std::string_view::npos &&
                           second_slash + 1 < english.size() &&
                           is_ascii_alnum(english[second_slash + 1]);
  if ((rooted_path || starts_with("~/") || starts_with("./") || starts_with("../")) &&
      std::any_of(english.begin(), english.end(), is_ascii_alnum))
    return true;
  // A tz database name ("Indian/Comoro", "America/Argentina/Salta", the old "US/Eastern"): a
  // key, and a place name (CORPUS.md step 1 leaves city names out); KDE's catalogs carry ~550.
  static constexpr std::string_view kTimeZoneAreas[] = {
      "Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/",
      "Europe/", "Indian/", "Pacific/", "Etc/", "Brazil/", "Canada/", "Chile/", "Mexico/", "US/"};
  for (std::string_view area : kTimeZoneAreas)
    if (starts_with(area) && english.size() > area.size() && is_ascii_alnum(english[area.size()]))
      return true;
  bool inner_separator = false, lower_then_upper = false;
  for (std::size_t i = 1; i + 1 < english.size(); ++i) {
    const char c = english[i];
    if ((c == ':' || c == '.' || c == '_' || c == '=') && is_ascii_alnum(english[i - 1]) &&
        is_ascii_alnum(english[i + 1]))
      inner_separator = true;
    if (std::islower(static_cast<unsigned char>(english[i - 1])) && is_ascii_upper(c)) lower_then_upper = true;
  }
  // "Save", "e-mail" and "3.5" are words; "org.gnome.Foo", "a:b",
  // "showAll" and "snake_case" are keys.
  const bool digits_only = std::all_of(english.begin(), english.end(),
                                       [](char c) { return is_ascii_digit(c) || c == '.'; });
  return !digits_only && (inner_separator || (lower_then_upper && std::islower(static_cast<unsigned char>(english[0]))));
}

std::string letters_digits_key(std::string_view text) {
  std::string out;
  for (char32_t cp : utf8::decode(text))
    if (is_letter(cp) || is_digit(cp)) utf8::append(out, fold_case(cp));
  return out;
}

std::string collapse_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string_view drop_reason_name(DropReason reason) {
  static constexpr std::array<std::string_view, 13> kNames = {
      "kept", "bad-encoding", "mojibake", "placeholders", "no-english-word", "no-source-letter",
      "identifier", "too-long", "length-ratio", "copy-of-english", "mostly-english", "wrong-script", "empty"};
  return kNames[static_cast<std::size_t>(reason)];
}

DropReason check_pair(std::string_view english, std::string_view source, std::string_view code) {
  if (english.empty() || source.empty()) return DropReason::kEmpty;
  const std::u32string english_cps = utf8::decode(remove_placeholders(english));
  bool has_word = false;
  for (std::size_t i = 0, run = 0; i < english_cps.size(); ++i) {
    run = is_letter(english_cps[i]) ? run + 1 : 0;
    if (run >= 2) has_word = true;
  }
  if (!has_word) return DropReason::kNoEnglishWord;
  const std::u32string source_cps = utf8::decode(source);
  const Script expected = expected_script(code);
  bool source_has_letter = false, source_has_script = false;
  for (char32_t cp : source_cps) {
    if (!is_letter(cp)) continue;
    source_has_letter = true;
    const Script script = script_of(cp);
    if (script == expected || (expected == Script::kKana && script == Script::kHani) ||
        (expected == Script::kHang && script == Script::kHani))
      source_has_script = true;
  }
  if (!source_has_letter) return DropReason::kNoSourceLetter;
  if (is_identifier_like(english)) return DropReason::kIdentifier;

  const std::size_t english_words = folded_words(english).size();
  const std::size_t source_words = writes_without_spaces(code) ? source_cps.size() / 4 : folded_words(source).size();
  if (english_words > 200 || source_words > 200) return DropReason::kTooLong;
  if (english_cps.size() >= 20) {
    const double ratio = static_cast<double>(source_cps.size()) / static_cast<double>(utf8::length(english));
    if (ratio < 0.1 || ratio > 10) return DropReason::kLengthRatio;
  }
  if (letters_digits_key(english) == letters_digits_key(source)) return DropReason::kCopyOfEnglish;
  const std::vector<std::string> english_tokens = folded_words(english);
  if (english_tokens.size() >= 4) {
    const std::vector<std::string> source_tokens = folded_words(source);
    const std::set<std::string> source_set(source_tokens.begin(), source_tokens.end());
    std::size_t shared = 0;
    for (const auto& w : english_tokens) shared += source_set.count(w);
    if (shared * 5 >= english_tokens.size() * 4) return DropReason::kMostlyEnglish;
  }
  if (expected != Script::kLatn && expected != Script::kOther && !source_has_script) return DropReason::kWrongScript;
  return DropReason::kKept;
}

CleanedPairs clean_pair(std::string_view english_in, std::string_view source_in, std::string_view code,
                        const AcceleratorMarks& english_marks, const AcceleratorMarks& source_marks,
                        bool libreoffice) {
  CleanedPairs result;
  if (has_replacement_char(english_in) || has_replacement_char(source_in) || !utf8::is_valid(english_in) ||
      !utf8::is_valid(source_in)) {
    result.reason = DropReason::kBadEncoding;
    return result;
  }
  if (has_mojibake(source_in)) {
    result.reason = DropReason::kMojibake;
    return result;
  }
  auto prepare = [&](std::string_view text, const AcceleratorMarks& marks) {
    std::string s = remove_invisible(normalize_nfc(text));
    s = resolve_kde_transcript(s);
    if (libreoffice) s = expand_product_name(s);
    s = remove_literal_newline_escapes(s);
    s = strip_accelerators(s, marks);
    const bool has_entities = s.find('&') != std::string::npos;
    s = strip_markup(s);
    // Decoded entities ("&#25;", "&#x2028;", "e&#769;") get step 4's removal and NFC too.
    if (has_entities) s = remove_invisible(normalize_nfc(s));
    return normalise_positional_printf(s);
  };
  const std::string english = prepare(english_in, english_marks);
  const std::string source = prepare(source_in, source_marks);
  if (placeholders(english) != placeholders(source)) {
    result.reason = DropReason::kPlaceholders;
    return result;
  }
  std::vector<std::string> english_lines = split_lines(english);
  std::vector<std::string> source_lines = split_lines(source);
  // Line pairs must match the way the whole strings do: the same number of lines, and the same
  // placeholders on each pair of lines; otherwise the entry stays one pair.
  bool lines_align = english_lines.size() == source_lines.size() && english_lines.size() > 1;
  for (std::size_t i = 0; lines_align && i < english_lines.size(); ++i)
    lines_align = placeholders(english_lines[i]) == placeholders(source_lines[i]);
  if (!lines_align) {
    english_lines = {collapse_spaces(english)};
    source_lines = {collapse_spaces(source)};
  }
  result.reason = DropReason::kEmpty;
  bool first_drop = true;
  for (std::size_t i = 0; i < english_lines.size(); ++i) {
    const DropReason reason = check_pair(english_lines[i], source_lines[i], code);
    if (reason == DropReason::kKept) {
      result.pairs.emplace_back(std::move(source_lines[i]), std::move(english_lines[i]));
    } else if (first_drop) {
      result.reason = reason;
      first_drop = false;
    }
  }
  if (!result.pairs.empty()) result.reason = DropReason::kKept;
  return result;
}

}  // namespace moe::data
