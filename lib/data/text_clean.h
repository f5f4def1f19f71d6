#pragma once
// Cleaning of one (English, source) pair of catalog strings, the rules of
// CORPUS.md "Cleaning" steps 4-10, each a function of its own so tests can
// hit each rule. Strings are UTF-8. clean_pair() runs them in order.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moe::data {

// Which accelerator marks a catalog uses; decided per catalog (see
// uses_underscore_accelerators) because '_' is also a plain character.
struct AcceleratorMarks {
  bool ampersand = true;    // "&File" (all gettext catalogs except LibreOffice's)
  bool underscore = false;  // "_File" (GTK; only where the catalog's msgids show it)
  bool tilde = false;       // "~File" (LibreOffice)
};

// True when >= 0.5% of the msgids carry exactly one "_X" accelerator.
bool uses_underscore_accelerators(const std::vector<std::string>& msgids);

// Step 4: U+FFFD, or "Ã©"-style UTF-8-read-as-Latin-1 sequences.
bool has_replacement_char(std::string_view text);
bool has_mojibake(std::string_view text);
// Step 4: control characters (tab and newline become a space / stay), BOM,
// soft hyphen, ZWSP and noncharacters removed; ZWJ/ZWNJ kept; U+2028/U+2029
// (line / paragraph separator) become newlines, so step 9 splits on them.
std::string remove_invisible(std::string_view text);

// Step 5: KDE Transcript "text|/|$[script]" -> "text"; %PRODUCTNAME ->
// LibreOffice; a literal backslash-n at a line end removed.
std::string resolve_kde_transcript(std::string_view text);
std::string expand_product_name(std::string_view text);
std::string remove_literal_newline_escapes(std::string_view text);

// Step 6: accelerators; "&&" -> "&"; "&amp;"-style entities untouched;
// CJK "(_F)" / "(&F)" / "(~F)" suffixes removed.
std::string strip_accelerators(std::string_view text, const AcceleratorMarks& marks);

// Step 7: known tags (Pango, HTML, KDE KUIT, <qt>) and any tag with
// attributes or a slash removed, block-level ones (br, p, h1, div, td, li...)
// leaving a space; "<file>"-style placeholders kept; entities decoded (a
// numeric one that names no character, like "&#0;", dropped); a second pass for
// markup that was itself escaped ("&lt;br/&gt;"). clean_pair() then runs step 4
// again on what the entities decoded to.
std::string strip_markup(std::string_view text);

// Step 8: "%1$s" -> "%s"; the sorted multiset of placeholders
// (%s %d %1 {0} {$x} ${x} %(x)s #1 %NAME% $NAME$); `text` with them removed.
std::string normalise_positional_printf(std::string_view text);
std::vector<std::string> placeholders(std::string_view text);
std::string remove_placeholders(std::string_view text);

// Step 10 helpers.
bool is_identifier_like(std::string_view english);
// Letters and digits only, case-folded: "Save as..." -> "saveas".
std::string letters_digits_key(std::string_view text);
std::string collapse_spaces(std::string_view text);

// Why clean_pair() dropped a pair (for the statistics table).
enum class DropReason {
  kKept, kBadEncoding, kMojibake, kPlaceholders, kNoEnglishWord, kNoSourceLetter, kIdentifier,
  kTooLong, kLengthRatio, kCopyOfEnglish, kMostlyEnglish, kWrongScript, kEmpty
};
std::string_view drop_reason_name(DropReason reason);

// Step 10 on one already-cleaned line pair, for language `code`.
DropReason check_pair(std::string_view english, std::string_view source, std::string_view code);

struct CleanedPairs {
  std::vector<std::pair<std::string, std::string>> pairs;  // (source, english)
  DropReason reason = DropReason::kKept;  // the first drop, when `pairs` is empty
};

// Steps 4-10 (with NFC, nfc.h) for one decoded pair of language `code`; several output pairs
// when a multi-line string splits into line pairs (step 9).
CleanedPairs clean_pair(std::string_view english, std::string_view source, std::string_view code,
                        const AcceleratorMarks& english_marks, const AcceleratorMarks& source_marks,
                        bool libreoffice);

}  // namespace moe::data
