#pragma once
// Coarse Unicode classification for the corpus cleaner: the writing system
// (ISO 15924 code) of a code point, whether it is a letter, and a simple case
// fold. Tables cover the scripts that occur in Debian's catalogs; anything
// else is Script::kOther. Not a full UCD: good enough to tell which script a
// string is in and whether it has letters at all.
#include <string>
#include <string_view>

namespace moe::data {

enum class Script {
  kOther, kLatn, kCyrl, kGrek, kArmn, kHebr, kArab, kThaa, kNkoo, kDeva, kBeng, kGuru, kGujr,
  kOrya, kTaml, kTelu, kKnda, kMlym, kSinh, kThai, kLaoo, kTibt, kMymr, kGeor, kHang, kEthi,
  kCher, kCans, kKhmr, kMong, kOlck, kMtei, kTfng, kHani, kKana, kSyrc
};

Script script_of(char32_t cp);
// ISO 15924 name ("Latn"), empty for kOther; and back (kOther if unknown).
std::string_view script_name(Script script);
Script script_from_name(std::string_view name);

// Letters (and combining marks) of any script; not digits, punctuation,
// symbols, spaces, private use or emoji.
bool is_letter(char32_t cp);
bool is_digit(char32_t cp);
// Lower-case for Latin, Greek, Cyrillic and Armenian; other code points unchanged.
char32_t fold_case(char32_t cp);
std::string fold_case(std::string_view utf8_text);

// The script most of the letters of `utf8_text` are in (kOther if none).
Script dominant_script(std::string_view utf8_text);

}  // namespace moe::data
