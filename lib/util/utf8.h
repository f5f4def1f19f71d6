#pragma once
// UTF-8 helpers shared by the tokenizers, the corpus builder and the metrics.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace moe::utf8 {

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid(std::string_view s);

// Decodes well-formed UTF-8 into code points; throws std::invalid_argument on bad input.
std::u32string decode(std::string_view s);

// Encodes code points as UTF-8.
std::string encode(std::u32string_view s);
void append(std::string& out, char32_t cp);

// Number of code points in well-formed UTF-8.
std::size_t length(std::string_view s);

// `s` as one printable line, for error messages that quote user bytes: ASCII
// control characters (newline, NUL, ESC, ...) and bytes that are not
// well-formed UTF-8 become \xNN, and trailing spaces go. Valid non-ASCII
// text is kept as it is.
std::string printable(std::string_view s);

}  // namespace moe::utf8
