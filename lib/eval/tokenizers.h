#pragma once
// sacreBLEU's BLEU tokenizers 13a, intl, zh, char and none (METRICS.md §2.2) and
// TER's tercom normalisation (§4.1). Input is one line as code points; the
// output is the tokenized line, whose Python-whitespace split gives the words.
#include <string>
#include <string_view>

namespace moe::eval {

enum class Tokenizer { k13a, kIntl, kZh, kChar, kNone };

// "13a", "intl", "zh", "char", "none" (the names -tok accepts and signatures show).
const char* tokenizer_name(Tokenizer tokenizer);
// Throws moe::InputError naming the valid choices for an unknown name.
Tokenizer parse_tokenizer(std::string_view name);

std::u32string tokenize(std::u32string_view line, Tokenizer tokenizer);

std::u32string tokenize_13a(std::u32string_view line);
std::u32string tokenize_intl(std::u32string_view line);
std::u32string tokenize_zh(std::u32string_view line);
std::u32string tokenize_char(std::u32string_view line);

// True for the code points sacreBLEU's zh tokenizer isolates (its range table
// as Python actually reads it, quirks included: U+2001..U+2A6D is one range).
bool is_zh_tokenizer_char(char32_t cp);

struct TercomOptions {
  bool case_sensitive = false;  // off: Python-lowercase first
  bool normalized = false;      // mteval-style punctuation splitting
  bool no_punct = false;        // delete . , ? : ; ! " ( )
  bool asian_support = false;   // CJK splitting (with normalized) and CJK punctuation removal
};
// The "tercom" tokenizer of TER: the line with words separated by single spaces.
std::u32string tokenize_tercom(std::u32string_view line, const TercomOptions& options);

}  // namespace moe::eval
