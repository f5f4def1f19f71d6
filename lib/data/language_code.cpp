#include "data/language_code.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "util/utf8.h"

namespace moe::data {
namespace {

// ISO 639-1 codes.
const std::set<std::string_view>& iso639_1() {
  static const std::set<std::string_view> codes = {
      "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
      "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
      "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
      "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
      "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
      "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
      "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
      "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
      "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
      "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
      "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
      "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu"};
  return codes;
}

// Three-letter (ISO 639-2/3) codes that Debian's catalogs use for languages
// without a two-letter code.
const std::set<std::string_view>& iso639_3_seen() {
  static const std::set<std::string_view> codes = {
      "ace", "ach", "ady", "ain", "ale", "aln", "ang", "anp", "arn", "ary", "ast", "bal", "bar", "bem",
      "ber", "bho", "bin", "brx", "byn", "ceb", "cgg", "chr", "ckb", "crh", "csb", "dgo", "doi",
      "dsb", "fil", "frp", "fur", "gez", "gsw", "guc", "gug", "gun", "haw", "hil", "hne", "hsb",
      "hus", "ilo", "jam", "jbo", "kab", "kmr", "kok", "kos", "krl", "ksw", "kum", "lad", "lez", "lij",
      "lld", "lmo", "ltg", "lus", "mai", "mhr", "min", "miq", "mjw", "mni", "mus", "mvo", "mwl", "myv", "nah",
      "nap", "nds", "nhn", "nqo", "nso", "pam", "pap", "pbs", "pms", "quc", "rom", "rue", "sah", "sat",
      "sco", "scn", "shn", "sid", "sma", "smj", "smn", "sms", "son", "srd", "syr", "szl",
      "tet", "tig", "tlh", "tok", "tpi", "trv", "tvl", "tzm", "udm", "vec", "vls", "wae", "wal", "war", "wen",
      "yue", "zgh", "zza"};
  return codes;
}

// Deprecated or merged codes.
const std::map<std::string_view, std::string_view>& renamed() {
  static const std::map<std::string_view, std::string_view> table = {
      {"iw", "he"}, {"in", "id"}, {"ji", "yi"}, {"jw", "jv"}, {"no", "nb"}, {"tl", "fil"},
      {"mo", "ro"}, {"sh", "sr"}, {"bh", "bho"}, {"kmr", "ku"}, {"gug", "gn"}, {"srd", "sc"},
      {"zgh", "tzm"}, {"cmn", "zh"}, {"ibo", "ig"}, {"ayc", "ay"}, {"quz", "qu"}};
  return table;
}

// Languages written in more than one script in the catalogs: their default
// script (no subtag). Any other script gets a subtag.
const std::map<std::string_view, Script>& multi_script_defaults() {
  static const std::map<std::string_view, Script> table = {
      {"sr", Script::kCyrl}, {"uz", Script::kLatn}, {"be", Script::kCyrl}, {"ks", Script::kArab},
      {"sd", Script::kArab}, {"sat", Script::kOlck}, {"mni", Script::kBeng}, {"kok", Script::kDeva},
      {"pa", Script::kGuru}, {"az", Script::kLatn}, {"tt", Script::kCyrl}, {"ro", Script::kLatn},
      {"ku", Script::kLatn}, {"mn", Script::kCyrl}, {"tg", Script::kCyrl}, {"kk", Script::kCyrl},
      {"ky", Script::kCyrl}, {"ha", Script::kLatn}, {"bs", Script::kLatn}, {"ug", Script::kArab},
      {"tk", Script::kLatn}, {"crh", Script::kLatn}, {"ms", Script::kLatn}, {"shn", Script::kMymr}};
  return table;
}

// Expected script of single-script non-Latin languages.
const std::map<std::string_view, Script>& non_latin_languages() {
  static const std::map<std::string_view, Script> table = {
      {"ru", Script::kCyrl}, {"uk", Script::kCyrl}, {"bg", Script::kCyrl}, {"mk", Script::kCyrl},
      {"ba", Script::kCyrl}, {"cv", Script::kCyrl}, {"os", Script::kCyrl}, {"ce", Script::kCyrl},
      {"kv", Script::kCyrl}, {"av", Script::kCyrl}, {"sah", Script::kCyrl}, {"udm", Script::kCyrl},
      {"mhr", Script::kCyrl}, {"myv", Script::kCyrl}, {"ady", Script::kCyrl}, {"kum", Script::kCyrl},
      {"lez", Script::kCyrl}, {"rue", Script::kCyrl}, {"ab", Script::kCyrl}, {"el", Script::kGrek},
      {"hy", Script::kArmn}, {"he", Script::kHebr}, {"yi", Script::kHebr}, {"ar", Script::kArab},
      {"fa", Script::kArab}, {"ur", Script::kArab}, {"ps", Script::kArab}, {"ckb", Script::kArab}, {"ary", Script::kArab}, {"ksw", Script::kMymr},
      {"dv", Script::kThaa}, {"nqo", Script::kNkoo}, {"hi", Script::kDeva}, {"mr", Script::kDeva},
      {"ne", Script::kDeva}, {"sa", Script::kDeva}, {"mai", Script::kDeva}, {"bho", Script::kDeva},
      {"brx", Script::kDeva}, {"doi", Script::kDeva}, {"hne", Script::kDeva}, {"anp", Script::kDeva},
      {"bn", Script::kBeng}, {"as", Script::kBeng}, {"gu", Script::kGujr}, {"or", Script::kOrya},
      {"ta", Script::kTaml}, {"te", Script::kTelu}, {"kn", Script::kKnda}, {"ml", Script::kMlym},
      {"si", Script::kSinh}, {"th", Script::kThai}, {"lo", Script::kLaoo}, {"bo", Script::kTibt},
      {"dz", Script::kTibt}, {"my", Script::kMymr}, {"ka", Script::kGeor}, {"ko", Script::kHang},
      {"am", Script::kEthi}, {"ti", Script::kEthi}, {"byn", Script::kEthi}, {"tig", Script::kEthi},
      {"gez", Script::kEthi}, {"wal", Script::kEthi}, {"chr", Script::kCher}, {"iu", Script::kCans},
      {"km", Script::kKhmr}, {"tzm", Script::kTfng}, {"zh", Script::kHani}, {"yue", Script::kHani},
      {"ja", Script::kKana}, {"syr", Script::kSyrc}};
  return table;
}

// Pairs of (Simplified, Traditional) forms of frequent interface characters.
constexpr std::string_view kSimplified =
    "这个们时会说对开关发为与无从后图进删设检项户显级载网机务线还当动择认错误请输单该连档数据"
    "应页试种样书将显组态库签";
constexpr std::string_view kTraditional =
    "這個們時會說對開關發為與無從後圖進刪設檢項戶顯級載網機務線還當動擇認錯誤請輸單該連檔數據"
    "應頁試種樣書將顯組態庫簽";

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_language_syntax(std::string_view s) {
  return (s.size() == 2 || s.size() == 3) &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

LocaleCode parse_locale(std::string_view locale) {
  LocaleCode result;
  std::string_view rest = locale;
  std::string modifier;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    modifier = lowercase_ascii(rest.substr(at + 1));
    rest = rest.substr(0, at);
  }
  if (const std::size_t dot = rest.find('.'); dot != std::string_view::npos) rest = rest.substr(0, dot);
  std::string region;
  std::string language;
  if (const std::size_t sep = rest.find_first_of("_-"); sep != std::string_view::npos) {
    language = lowercase_ascii(rest.substr(0, sep));
    region = std::string(rest.substr(sep + 1));
  } else {
    language = lowercase_ascii(rest);
  }
  if (!is_language_syntax(language) || language == "en") return result;  // kDropped
  if (modifier == "pinyin" || modifier == "petr1708" || region == "LATN") return result;

  if (auto it = renamed().find(language); it != renamed().end()) language = std::string(it->second);
  result.status = iso639_1().count(language) || iso639_3_seen().count(language)
                      ? LocaleCode::Status::kKnown
                      : LocaleCode::Status::kUnknown;

  // Regions and modifiers that change the language or name a script.
  if (language == "ku" && (region == "IQ" || modifier == "arabic")) language = "ckb";
  if (language == "pa" && region == "PK") result.script_hint = "Arab";
  if (language == "az" && region == "IR") result.script_hint = "Arab";
  if (language == "uz" && region == "AF") result.script_hint = "Arab";
  if (modifier == "latin" || modifier == "latn" || modifier == "ijekavianlatin" || modifier == "iqtelif")
    result.script_hint = "Latn";
  if (modifier == "cyrillic" || modifier == "cyrl") result.script_hint = "Cyrl";
  if (modifier == "devanagari" || modifier == "deva") result.script_hint = "Deva";
  if (modifier == "arabic" || modifier == "arab") result.script_hint = "Arab";
  if (modifier == "mtei") result.script_hint = "Mtei";
  if (language == "zh") {
    result.script_hint = (region == "TW" || region == "HK" || region == "MO" || region == "Hant")
                             ? "Hant"
                             : "Hans";
  }
  result.code = language;
  if (language == "pt" && region == "BR") result.code = "pt-BR";
  return result;
}

int chinese_variant_evidence(std::string_view utf8_text) {
  static const std::u32string simplified = utf8::decode(kSimplified);
  static const std::u32string traditional = utf8::decode(kTraditional);
  long score = 0;
  for (char32_t cp : utf8::decode(utf8_text)) {
    if (simplified.find(cp) != std::u32string::npos) ++score;
    else if (traditional.find(cp) != std::u32string::npos) --score;
  }
  return score > 0 ? 1 : score < 0 ? -1 : 0;
}

std::string resolve_code(const LocaleCode& locale, const std::vector<std::string>& samples) {
  if (locale.code == "zh") {
    int votes = 0;
    for (const auto& s : samples) votes += chinese_variant_evidence(s);
    if (votes == 0) return "zh-" + locale.script_hint;
    return votes > 0 ? "zh-Hans" : "zh-Hant";
  }
  const auto multi = multi_script_defaults().find(locale.code);
  if (multi == multi_script_defaults().end()) return locale.code;
  // Letters of each script over all the samples, not one vote per string, and a Latin letter
  // weighs a third of another script's: non-Latin translations borrow English words and names
  // ("session түлхүүр", "redirect хаанаас" made python3-django's mn catalogs mn-Latn), Latin
  // ones do not borrow Cyrillic. In the core list's catalogs, Latin-script ones have at most
  // 9% letters of another script, and the others at most 44% Latin letters.
  std::map<Script, std::size_t> weighted_letters;
  for (const auto& s : samples)
    for (char32_t cp : utf8::decode(s))
      if (is_letter(cp)) weighted_letters[script_of(cp)] += script_of(cp) == Script::kLatn ? 1 : 3;
  weighted_letters.erase(Script::kOther);
  Script script = script_from_name(locale.script_hint);
  if (!weighted_letters.empty())
    script = std::max_element(weighted_letters.begin(), weighted_letters.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; })
                 ->first;
  if (script == Script::kOther || script == multi->second) return locale.code;
  return locale.code + "-" + std::string(script_name(script));
}

Script expected_script(std::string_view code) {
  const std::size_t dash = code.find('-');
  const std::string_view base = code.substr(0, dash);
  if (dash != std::string_view::npos) {
    const Script subtag = script_from_name(code.substr(dash + 1));
    if (subtag != Script::kOther) return subtag;
  }
  if (base == "zh") return Script::kHani;
  if (auto it = multi_script_defaults().find(base); it != multi_script_defaults().end()) return it->second;
  if (auto it = non_latin_languages().find(base); it != non_latin_languages().end()) return it->second;
  return Script::kLatn;
}

bool writes_without_spaces(std::string_view code) {
  const Script script = expected_script(code);
  return script == Script::kHani || script == Script::kKana || script == Script::kThai ||
         script == Script::kLaoo || script == Script::kKhmr || script == Script::kMymr ||
         script == Script::kTibt;
}

}  // namespace moe::data
