#include "data/script.h"

#include <array>
#include <map>

#include "util/utf8.h"

namespace moe::data {
namespace {

struct ScriptRange {
  char32_t first, last;
  Script script;
};

// Sorted by first code point.
constexpr ScriptRange kScriptRanges[] = {
    {0x0041, 0x005A, Script::kLatn}, {0x0061, 0x007A, Script::kLatn}, {0x00AA, 0x00AA, Script::kLatn},
    {0x00BA, 0x00BA, Script::kLatn}, {0x00C0, 0x00D6, Script::kLatn}, {0x00D8, 0x00F6, Script::kLatn},
    {0x00F8, 0x024F, Script::kLatn}, {0x0250, 0x02AF, Script::kLatn}, {0x0370, 0x03FF, Script::kGrek},
    {0x0400, 0x052F, Script::kCyrl}, {0x0531, 0x058F, Script::kArmn}, {0x0591, 0x05FF, Script::kHebr},
    {0x0600, 0x06FF, Script::kArab}, {0x0700, 0x074F, Script::kSyrc}, {0x0750, 0x077F, Script::kArab},
    {0x0780, 0x07BF, Script::kThaa}, {0x07C0, 0x07FF, Script::kNkoo}, {0x08A0, 0x08FF, Script::kArab},
    {0x0900, 0x097F, Script::kDeva}, {0x0980, 0x09FF, Script::kBeng}, {0x0A00, 0x0A7F, Script::kGuru},
    {0x0A80, 0x0AFF, Script::kGujr}, {0x0B00, 0x0B7F, Script::kOrya}, {0x0B80, 0x0BFF, Script::kTaml},
    {0x0C00, 0x0C7F, Script::kTelu}, {0x0C80, 0x0CFF, Script::kKnda}, {0x0D00, 0x0D7F, Script::kMlym},
    {0x0D80, 0x0DFF, Script::kSinh}, {0x0E00, 0x0E7F, Script::kThai}, {0x0E80, 0x0EFF, Script::kLaoo},
    {0x0F00, 0x0FFF, Script::kTibt}, {0x1000, 0x109F, Script::kMymr}, {0x10A0, 0x10FF, Script::kGeor},
    {0x1100, 0x11FF, Script::kHang}, {0x1200, 0x139F, Script::kEthi}, {0x13A0, 0x13FF, Script::kCher},
    {0x1400, 0x167F, Script::kCans}, {0x1780, 0x17FF, Script::kKhmr}, {0x1800, 0x18AF, Script::kMong},
    {0x19E0, 0x19FF, Script::kKhmr}, {0x1C50, 0x1C7F, Script::kOlck}, {0x1C80, 0x1C8F, Script::kCyrl},
    {0x1C90, 0x1CBF, Script::kGeor}, {0x1D00, 0x1DBF, Script::kLatn}, {0x1E00, 0x1EFF, Script::kLatn},
    {0x1F00, 0x1FFF, Script::kGrek}, {0x2C60, 0x2C7F, Script::kLatn}, {0x2D00, 0x2D2F, Script::kGeor},
    {0x2D30, 0x2D7F, Script::kTfng}, {0x2D80, 0x2DDF, Script::kEthi}, {0x2DE0, 0x2DFF, Script::kCyrl},
    {0x2E80, 0x2FDF, Script::kHani}, {0x3005, 0x3007, Script::kHani}, {0x3041, 0x309F, Script::kKana},
    {0x30A0, 0x30FF, Script::kKana}, {0x3131, 0x318F, Script::kHang}, {0x31F0, 0x31FF, Script::kKana},
    {0x3400, 0x4DBF, Script::kHani}, {0x4E00, 0x9FFF, Script::kHani}, {0xA640, 0xA69F, Script::kCyrl},
    {0xA720, 0xA7FF, Script::kLatn}, {0xA960, 0xA97F, Script::kHang}, {0xAA60, 0xAA7F, Script::kMymr},
    {0xAAE0, 0xAAFF, Script::kMtei}, {0xAB30, 0xAB6F, Script::kLatn}, {0xAB70, 0xABBF, Script::kCher},
    {0xABC0, 0xABFF, Script::kMtei}, {0xAC00, 0xD7FF, Script::kHang}, {0xF900, 0xFAFF, Script::kHani},
    {0xFB00, 0xFB06, Script::kLatn}, {0xFB1D, 0xFB4F, Script::kHebr}, {0xFB50, 0xFDFF, Script::kArab},
    {0xFE70, 0xFEFF, Script::kArab}, {0xFF21, 0xFF3A, Script::kLatn}, {0xFF41, 0xFF5A, Script::kLatn},
    {0xFF66, 0xFF9F, Script::kKana}, {0xFFA0, 0xFFDC, Script::kHang}, {0x20000, 0x3134F, Script::kHani},
};

struct CodePointRange {
  char32_t first, last;
};

// The code points inside kScriptRanges whose general category is not a letter
// (L*) or a mark (M*), Unicode 14.0.0 (the version of nfc_tables.cpp): punctuation,
// symbols, numbers and format characters. Sorted; a range may span unassigned code
// points. Made with Python 3.11's unicodedata: for each code point of kScriptRanges,
// `unicodedata.category(chr(cp))[0] not in "LM"` (unassigned "Cn" left out).
constexpr CodePointRange kNonLetterRanges[] = {
    {0x0375, 0x0375}, {0x037E, 0x037E}, {0x0384, 0x0385}, {0x0387, 0x0387}, {0x03F6, 0x03F6},
    {0x0482, 0x0482}, {0x055A, 0x055F}, {0x0589, 0x058F}, {0x05BE, 0x05BE}, {0x05C0, 0x05C0},
    {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x060F}, {0x061B, 0x061F}, {0x0660, 0x066D},
    {0x06D4, 0x06D4}, {0x06DD, 0x06DE}, {0x06E9, 0x06E9}, {0x06F0, 0x06F9}, {0x06FD, 0x06FE},
    {0x0700, 0x070F}, {0x07C0, 0x07C9}, {0x07F6, 0x07F9}, {0x07FE, 0x07FF}, {0x08E2, 0x08E2},
    {0x0964, 0x0970}, {0x09E6, 0x09EF}, {0x09F2, 0x09FB}, {0x09FD, 0x09FD}, {0x0A66, 0x0A6F},
    {0x0A76, 0x0A76}, {0x0AE6, 0x0AF1}, {0x0B66, 0x0B70}, {0x0B72, 0x0B77}, {0x0BE6, 0x0BFA},
    {0x0C66, 0x0C7F}, {0x0C84, 0x0C84}, {0x0CE6, 0x0CEF}, {0x0D4F, 0x0D4F}, {0x0D58, 0x0D5E},
    {0x0D66, 0x0D79}, {0x0DE6, 0x0DEF}, {0x0DF4, 0x0DF4}, {0x0E3F, 0x0E3F}, {0x0E4F, 0x0E5B},
    {0x0ED0, 0x0ED9}, {0x0F01, 0x0F17}, {0x0F1A, 0x0F34}, {0x0F36, 0x0F36}, {0x0F38, 0x0F38},
    {0x0F3A, 0x0F3D}, {0x0F85, 0x0F85}, {0x0FBE, 0x0FC5}, {0x0FC7, 0x0FDA}, {0x1040, 0x104F},
    {0x1090, 0x1099}, {0x109E, 0x109F}, {0x10FB, 0x10FB}, {0x1360, 0x137C}, {0x1390, 0x1399},
    {0x1400, 0x1400}, {0x166D, 0x166E}, {0x17D4, 0x17D6}, {0x17D8, 0x17DB}, {0x17E0, 0x180A},
    {0x180E, 0x180E}, {0x1810, 0x1819}, {0x19E0, 0x19FF}, {0x1C50, 0x1C59}, {0x1C7E, 0x1C7F},
    {0x1FBD, 0x1FBD}, {0x1FBF, 0x1FC1}, {0x1FCD, 0x1FCF}, {0x1FDD, 0x1FDF}, {0x1FED, 0x1FEF},
    {0x1FFD, 0x1FFE}, {0x2D70, 0x2D70}, {0x2E80, 0x2FD5}, {0x3007, 0x3007}, {0x309B, 0x309C},
    {0x30A0, 0x30A0}, {0x30FB, 0x30FB}, {0xA673, 0xA673}, {0xA67E, 0xA67E}, {0xA720, 0xA721},
    {0xA789, 0xA78A}, {0xAA77, 0xAA79}, {0xAAF0, 0xAAF1}, {0xAB5B, 0xAB5B}, {0xAB6A, 0xAB6B},
    {0xABEB, 0xABEB}, {0xABF0, 0xABF9}, {0xFB29, 0xFB29}, {0xFBB2, 0xFBC2}, {0xFD3E, 0xFD4F},
    {0xFDCF, 0xFDCF}, {0xFDFC, 0xFDFF}, {0xFEFF, 0xFEFF}
};

template <typename Range, std::size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t cp) {
  std::size_t lo = 0, hi = N;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (ranges[mid].last < cp) lo = mid + 1;
    else hi = mid;
  }
  return lo < N && ranges[lo].first <= cp;
}

constexpr std::array<std::string_view, 36> kScriptNames = {
    "",     "Latn", "Cyrl", "Grek", "Armn", "Hebr", "Arab", "Thaa", "Nkoo", "Deva", "Beng", "Guru",
    "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Thai", "Laoo", "Tibt", "Mymr", "Geor",
    "Hang", "Ethi", "Cher", "Cans", "Khmr", "Mong", "Olck", "Mtei", "Tfng", "Hani", "Kana", "Syrc"};

}  // namespace

Script script_of(char32_t cp) {
  std::size_t lo = 0, hi = std::size(kScriptRanges);
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (kScriptRanges[mid].last < cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo < std::size(kScriptRanges) && kScriptRanges[lo].first <= cp) return kScriptRanges[lo].script;
  return Script::kOther;
}

std::string_view script_name(Script script) { return kScriptNames[static_cast<std::size_t>(script)]; }

Script script_from_name(std::string_view name) {
  for (std::size_t i = 1; i < kScriptNames.size(); ++i)
    if (kScriptNames[i] == name) return static_cast<Script>(i);
  return Script::kOther;
}

bool is_digit(char32_t cp) {
  if (cp >= '0' && cp <= '9') return true;
  if (cp >= 0xFF10 && cp <= 0xFF19) return true;
  // The Arabic-Indic and the Brahmic scripts' digit blocks.
  if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06F0 && cp <= 0x06F9)) return true;
  if (cp >= 0x0966 && cp <= 0x0DEF && (cp & 0x7F) >= 0x66 && (cp & 0x7F) <= 0x6F) return true;
  if ((cp >= 0x0E50 && cp <= 0x0E59) || (cp >= 0x0ED0 && cp <= 0x0ED9) || (cp >= 0x0F20 && cp <= 0x0F29) ||
      (cp >= 0x1040 && cp <= 0x1049) || (cp >= 0x17E0 && cp <= 0x17E9))
    return true;
  return false;
}

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (is_digit(cp)) return false;
  // Combining diacritics belong to the letter before them.
  if (cp >= 0x0300 && cp <= 0x036F) return true;
  const Script script = script_of(cp);
  if (script == Script::kOther) return false;
  // Inside the script blocks, only letters (L*) and marks (M*) count: punctuation, symbols
  // and numbers of those scripts (Khmer U+17D6, Ethiopic U+1366, Myanmar U+104C...) do not.
  return !in_ranges(kNonLetterRanges, cp);
}

char32_t fold_case(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149 && cp != 0x17F) {
    // Latin Extended-A pairs upper/lower on even/odd code points, except in
    // 0x139-0x148 and 0x179-0x17E where the upper case is odd.
    const bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (odd_upper ? (cp % 2 == 1) : (cp % 2 == 0)) return cp + 1;
    return cp;
  }
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  if (cp >= 0x460 && cp <= 0x4FF && cp % 2 == 0 && !(cp >= 0x482 && cp <= 0x489)) {
    if (cp >= 0x4C1 && cp <= 0x4CE) return cp;  // odd-upper stretch, left alone
    return cp + 1;
  }
  if (cp >= 0x531 && cp <= 0x556) return cp + 48;
  if (cp >= 0x1E00 && cp <= 0x1EFF && cp % 2 == 0 && !(cp >= 0x1E96 && cp <= 0x1E9F)) return cp + 1;
  return cp;
}

std::string fold_case(std::string_view utf8_text) {
  std::string out;
  out.reserve(utf8_text.size());
  for (char32_t cp : utf8::decode(utf8_text)) utf8::append(out, fold_case(cp));
  return out;
}

Script dominant_script(std::string_view utf8_text) {
  std::map<Script, std::size_t> counts;
  for (char32_t cp : utf8::decode(utf8_text))
    if (is_letter(cp)) ++counts[script_of(cp)];
  Script best = Script::kOther;
  std::size_t best_count = 0;
  for (const auto& [script, count] : counts)
    if (count > best_count && script != Script::kOther) best = script, best_count = count;
  return best;
}

}  // namespace moe::data
