#pragma once
// Catalog locale names (de_CH, sr@latin, ca@valencia, zh_TW, pt_BR...) to the
// corpus's BCP-47-style language codes (CORPUS.md "Language codes"): ISO 639-1
// where it exists else 639-3, regional variants merged except pt-BR, a script
// subtag only where the language is written in more than one script, and
// zh-Hans / zh-Hant decided from the characters.
#include <string>
#include <string_view>
#include <vector>

#include "data/script.h"

namespace moe::data {

struct LocaleCode {
  enum class Status {
    kKnown,    // a language of our table
    kUnknown,  // syntactically a language code but not in our table: kept, worth a log line
    kDropped,  // English, a transliteration (zh@pinyin, ru@petr1708), or not a locale at all
  };
  Status status = Status::kDropped;
  // Base code before the script decision: "sr", "zh", "pt-BR". Empty if dropped.
  std::string code;
  // Script the locale name asks for ("Latn" for sr@latin), empty if it names none.
  std::string script_hint;
};

LocaleCode parse_locale(std::string_view locale);

// The final code of a catalog in `locale` whose translations are `samples`:
// decides zh-Hans vs zh-Hant, and the script subtag of multi-script
// languages (sr vs sr-Latn) from the characters (the script with the most
// letters over all samples, a Latin letter counting a third), falling back to
// the locale's hint (zh_TW -> zh-Hant) when the text has no evidence. Pass
// samples without markup and placeholders, whose Latin letters are not the
// language's.
std::string resolve_code(const LocaleCode& locale, const std::vector<std::string>& samples);

// The script every source string of `code` must have a letter of; kLatn for
// Latin-script languages (which get no script check), kOther when unknown.
Script expected_script(std::string_view code);

// Scripts written without spaces between words, where lengths count characters.
bool writes_without_spaces(std::string_view code);

// True if the text has more Simplified-only than Traditional-only Han characters.
// Returns 0 for no evidence, +1 for Simplified, -1 for Traditional.
int chinese_variant_evidence(std::string_view utf8_text);

}  // namespace moe::data
