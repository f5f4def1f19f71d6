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
  // Punctuation and signs inside script blocks that we must not count.
  switch (cp) {
    case 0x037E: case 0x0387: case 0x055A: case 0x055B: case 0x055C: case 0x055D: case 0x055E:
    case 0x0589: case 0x05BE: case 0x05C0: case 0x05C3: case 0x05F3: case 0x05F4: case 0x060C:
    case 0x061B: case 0x061F: case 0x066A: case 0x066B: case 0x066C: case 0x066D: case 0x06D4:
    case 0x0964: case 0x0965: case 0x0E3F: case 0x0F0B: case 0x0F0D: case 0x104A: case 0x104B:
    case 0x10FB: case 0x1361: case 0x1362: case 0x17D4: case 0x17D5:
      return false;
    default:
      return true;
  }
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
