#include "data/language_code.h"

#include <gtest/gtest.h>

namespace moe::data {
namespace {

// The code a catalog gets from its locale name when its text gives no other evidence.
std::string code_of(const std::string& locale, const std::string& sample = "") {
  const LocaleCode parsed = parse_locale(locale);
  if (parsed.status == LocaleCode::Status::kDropped) return "(dropped)";
  return resolve_code(parsed, sample.empty() ? std::vector<std::string>{} : std::vector<std::string>{sample});
}

TEST(LanguageCode, NormalisationTable) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"de", "de"},           {"de_CH", "de"},          {"es_AR", "es"},       {"es_MX.UTF-8", "es"},
      {"pt", "pt"},           {"pt_BR", "pt-BR"},       {"pt_PT", "pt"},       {"nb_NO", "nb"},
      {"no", "nb"},           {"nn", "nn"},             {"ca@valencia", "ca"}, {"sr", "sr"},
      {"sr@latin", "sr-Latn"}, {"sr@ijekavian", "sr"},  {"sr@ijekavianlatin", "sr-Latn"},
      {"ku_IQ", "ckb"},       {"tl", "fil"},            {"iw", "he"},          {"be@latin", "be-Latn"},
      {"uz@cyrillic", "uz-Cyrl"}, {"pa_PK", "pa-Arab"}, {"az_IR", "az-Arab"},  {"tt@iqtelif", "tt-Latn"},
      {"ks@devanagari", "ks-Deva"}, {"zh_CN", "zh-Hans"}, {"zh_TW", "zh-Hant"}, {"zh_HK", "zh-Hant"},
      {"ast", "ast"},         {"en", "(dropped)"},      {"en_GB", "(dropped)"}, {"en@quot", "(dropped)"},
      {"en@shaw", "(dropped)"}, {"zh_LATN@pinyin", "(dropped)"}, {"ru@petr1708", "(dropped)"},
      {"C", "(dropped)"},     {"x-test", "(dropped)"},
  };
  for (const auto& [locale, code] : table) EXPECT_EQ(code_of(locale), code) << locale;
}

TEST(LanguageCode, ScriptSubtagFollowsTheText) {
  // A catalog filed as plain "sr" but written in Latin letters is sr-Latn.
  EXPECT_EQ(code_of("sr", "Otvori datoteku"), "sr-Latn");
  EXPECT_EQ(code_of("sr@latin", "Отвори датотеку"), "sr");
  EXPECT_EQ(code_of("zh_CN", "開啟檔案"), "zh-Hant");
  EXPECT_EQ(code_of("de", "Открыть"), "de");  // single-script languages keep their code
}

TEST(LanguageCode, LatinLoanwordsDoNotMakeACyrillicCatalogLatin) {
  // python3-django's mn catalogs: most short strings lead with an English word, but most
  // letters are Cyrillic (one vote per string made them mn-Latn).
  const std::vector<std::string> redirects = {"redirect хаанаас", "redirect хаашаа", "сайт"};
  EXPECT_EQ(resolve_code(parse_locale("mn"), redirects), "mn");
  // Its sessions catalog has even more Latin letters than Cyrillic ones (35 to 33).
  const std::vector<std::string> sessions = {"Session-ууд", "дуусах хугацаа", "session",
                                             "session өгөгдөл", "session түлхүүр", "session-ууд"};
  EXPECT_EQ(resolve_code(parse_locale("mn"), sessions), "mn");
  // Real Latin-script catalogs still get their subtag, whatever the locale name says, also
  // with a few Cyrillic letters (glib's tt@iqtelif catalog has 9%).
  const std::vector<std::string> latin = {"Otvori datoteku", "Sačuvaj ДА"};
  EXPECT_EQ(resolve_code(parse_locale("sr"), latin), "sr-Latn");
  EXPECT_EQ(resolve_code(parse_locale("tt"), {"Faylnı açu", "Faylnı saqlaw", "Файл"}), "tt-Latn");
  EXPECT_EQ(resolve_code(parse_locale("uz"), {"Файлни очиш", "OK"}), "uz-Cyrl");
  EXPECT_EQ(resolve_code(parse_locale("tt@iqtelif"), {"Faylnı açu"}), "tt-Latn");
}

TEST(LanguageCode, UnknownCodesAreKeptButFlagged) {
  EXPECT_EQ(parse_locale("xyz").status, LocaleCode::Status::kUnknown);
  EXPECT_EQ(parse_locale("xyz").code, "xyz");
  EXPECT_EQ(parse_locale("fr").status, LocaleCode::Status::kKnown);
}

TEST(LanguageCode, ExpectedScripts) {
  EXPECT_EQ(expected_script("ru"), Script::kCyrl);
  EXPECT_EQ(expected_script("sr-Latn"), Script::kLatn);
  EXPECT_EQ(expected_script("sr"), Script::kCyrl);
  EXPECT_EQ(expected_script("zh-Hant"), Script::kHani);
  EXPECT_EQ(expected_script("hi"), Script::kDeva);
  EXPECT_EQ(expected_script("fr"), Script::kLatn);
  EXPECT_TRUE(writes_without_spaces("ja"));
  EXPECT_TRUE(writes_without_spaces("th"));
  EXPECT_FALSE(writes_without_spaces("ko"));
}

TEST(LanguageCode, ChineseVariantEvidence) {
  EXPECT_EQ(chinese_variant_evidence("这个文件"), 1);
  EXPECT_EQ(chinese_variant_evidence("這個檔案"), -1);
  EXPECT_EQ(chinese_variant_evidence("文件"), 0);
}

}  // namespace
}  // namespace moe::data
