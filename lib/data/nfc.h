#pragma once
// Unicode Normalization Form C (canonical decomposition, canonical ordering,
// canonical composition; UAX #15), from tables generated out of the Unicode
// database (nfc_tables.h). Catalog strings are mostly NFC already, but about
// 1% of the core corpus's lines were not (Bengali, Assamese, Kannada,
// Punjabi, Burmese, Yoruba... use precomposed letters NFC decomposes, or
// unordered marks), and the same word in two forms would split the
// vocabulary and defeat deduplication.
#include <string>
#include <string_view>

namespace moe::data {

// NFC of well-formed UTF-8 `text`; throws std::invalid_argument on malformed UTF-8.
std::string normalize_nfc(std::string_view text);
bool is_nfc(std::string_view text);

// The Unicode version the tables were generated from ("14.0.0").
const char* nfc_unicode_version();

}  // namespace moe::data
