#include "data/text_clean.h"

#include <gtest/gtest.h>

#include "data/script.h"

namespace moe::data {
namespace {

const AcceleratorMarks kGtk{true, true, false};
const AcceleratorMarks kLibreOffice{false, false, true};

TEST(TextClean, EncodingProblems) {
  EXPECT_TRUE(has_replacement_char("Fen\xEF\xBF\xBDtre"));
  EXPECT_FALSE(has_replacement_char("Fenêtre"));
  EXPECT_TRUE(has_mojibake("FenÃªtre"));  // "ê" read as Latin-1 and re-encoded
  EXPECT_FALSE(has_mojibake("Fenêtre"));
  EXPECT_FALSE(has_mojibake("ÃÖ"));
}

TEST(TextClean, InvisibleCharacters) {
  EXPECT_EQ(remove_invisible("\xEF\xBB\xBFSoft\xC2\xADhy\xE2\x80\x8Bphen\x07"), "Softhyphen");
  EXPECT_EQ(remove_invisible("tab\there\nline"), "tab here\nline");
  // ZWNJ (U+200C) and ZWJ (U+200D) are spelling in Persian and Indic scripts.
  EXPECT_EQ(remove_invisible("می\xE2\x80\x8Cخواهم"), "می\xE2\x80\x8Cخواهم");
}

TEST(TextClean, EntitiesDecodeToNoControlOrNonCharacter) {
  // inkscape's is.mo: "&#25;" decoded after the control-character pass came back as U+0019.
  const CleanedPairs control =
      clean_pair("Open &#25;the file", "Opna &#25;skrána", "is", kGtk, kGtk, false);
  ASSERT_EQ(control.pairs.size(), 1u);
  EXPECT_EQ(control.pairs[0].first, "Opna skrána");
  EXPECT_EQ(control.pairs[0].second, "Open the file");
  // What an entity decodes to is normalised too: "e" + U+0301 -> U+00E9.
  const CleanedPairs nfc =
      clean_pair("Open the cafe", "Ouvrir le cafe&#769;", "fr", kGtk, kGtk, false);
  ASSERT_EQ(nfc.pairs.size(), 1u);
  EXPECT_EQ(nfc.pairs[0].first, "Ouvrir le caf\u00E9");
  // Numbers that name no character are dropped, not decoded and not kept as written.
  EXPECT_EQ(strip_markup("a&#0;b&#xD800;c&#xFFFF;d&#xFDD0;e&#x110000;f"), "abcdef");
  // Too many digits for stoul: no std::out_of_range.
  EXPECT_EQ(strip_markup("x&#99999999999999999999999;y&#x0000000041;"), "xyA");
  EXPECT_EQ(remove_invisible("a\uFFFEb\U0010FFFFc"), "abc");
}

TEST(TextClean, LineAndParagraphSeparatorsBreakLines) {
  EXPECT_EQ(remove_invisible("a\u2028b\u2029c"), "a\nb\nc");
  const CleanedPairs split = clean_pair("First line\u2028Second line", "Πρώτη γραμμή\u2028Δεύτερη",
                                        "el", kGtk, kGtk, false);
  ASSERT_EQ(split.pairs.size(), 2u);
  EXPECT_EQ(split.pairs[0].second, "First line");
  EXPECT_EQ(split.pairs[1].second, "Second line");
  const CleanedPairs trailing =
      clean_pair("Open the file\u2029", "Άνοιγμα αρχείου\u2029", "el", kGtk, kGtk, false);
  ASSERT_EQ(trailing.pairs.size(), 1u);
  EXPECT_EQ(trailing.pairs[0].second, "Open the file");
  EXPECT_EQ(trailing.pairs[0].first.find("\u2029"), std::string::npos);
  // An escaped separator is a line break too.
  EXPECT_EQ(clean_pair("One&#x2028;Two", "Eins&#x2028;Zwei", "de", kGtk, kGtk, false).pairs.size(),
            2u);
}

TEST(TextClean, KdeTranscriptProductNameAndNewlineEscapes) {
  EXPECT_EQ(resolve_kde_transcript("Datei|/|$[eigenschaft Datei]"), "Datei");
  EXPECT_EQ(expand_product_name("Welcome to %PRODUCTNAME"), "Welcome to LibreOffice");
  EXPECT_EQ(remove_literal_newline_escapes("First line\\n\nSecond\\n"), "First line\nSecond");
  EXPECT_EQ(remove_literal_newline_escapes("a\\nb"), "a\\nb");  // only at line ends
}

TEST(TextClean, Accelerators) {
  EXPECT_EQ(strip_accelerators("_File", kGtk), "File");
  EXPECT_EQ(strip_accelerators("&Open", kGtk), "Open");
  EXPECT_EQ(strip_accelerators("Tom && Jerry", kGtk), "Tom & Jerry");
  EXPECT_EQ(strip_accelerators("Fish &amp; chips &#38; &lt;x&gt;", kGtk), "Fish &amp; chips &#38; &lt;x&gt;");
  EXPECT_EQ(strip_accelerators("ファイル(_F)", kGtk), "ファイル");
  EXPECT_EQ(strip_accelerators("打开(&O)...", kGtk), "打开...");
  EXPECT_EQ(strip_accelerators("&Файл", kGtk), "Файл");
  EXPECT_EQ(strip_accelerators("~Save As", kLibreOffice), "Save As");
  EXPECT_EQ(strip_accelerators("Save & Close", kLibreOffice), "Save & Close");
  // Two underscores are a name, not an accelerator; without the catalog flag '_' stays.
  EXPECT_EQ(strip_accelerators("my_var_name", kGtk), "my_var_name");
  // Outside underscore catalogs only a word-initial lone "_X" is an accelerator.
  EXPECT_EQ(strip_accelerators("_Cancel", AcceleratorMarks{}), "Cancel");
  EXPECT_EQ(strip_accelerators("Save _As", AcceleratorMarks{}), "Save As");
  EXPECT_EQ(strip_accelerators("Fi_le", AcceleratorMarks{}), "Fi_le");
  EXPECT_EQ(strip_accelerators("Fi_le", kGtk), "File");
}

TEST(TextClean, UnderscoreAcceleratorDetectionNeedsHalfAPercent) {
  std::vector<std::string> ids(400, "Plain text");
  EXPECT_FALSE(uses_underscore_accelerators(ids));
  ids[0] = "_Open";
  EXPECT_FALSE(uses_underscore_accelerators(ids));  // 1/400 = 0.25%
  ids[1] = "_Save";
  EXPECT_TRUE(uses_underscore_accelerators(ids));   // 2/400 = 0.5%
  ids[1] = "some_key";  // identifiers do not count
  EXPECT_FALSE(uses_underscore_accelerators(ids));
}

TEST(TextClean, Markup) {
  EXPECT_EQ(strip_markup("<b>Bold</b> and <span weight=\"bold\">heavy</span>"), "Bold and heavy");
  EXPECT_EQ(strip_markup("<qt>Line<br/>break</qt>"), "Line break");
  EXPECT_EQ(strip_markup("Open <filename>%1</filename> now"), "Open %1 now");
  EXPECT_EQ(strip_markup("Usage: cp <file> <dir>"), "Usage: cp <file> <dir>");
  EXPECT_EQ(strip_markup("a &lt; b &amp;&amp; c &gt; d &#233;t&#xE9;"), "a < b && c > d été");
  EXPECT_EQ(strip_markup("if x < 5 and y > 3"), "if x < 5 and y > 3");
  // Escaped markup and named punctuation entities (KDE help texts).
  EXPECT_EQ(strip_markup("new &amp;mdash; split&lt;br /&gt;view"), "new \u2014 split view");
  // Every block-level tag separates words (VLC's help: "media player</h2>Documentation").
  EXPECT_EQ(collapse_spaces(strip_markup("media player</h2>Documentation<div>You</div>can")),
            "media player Documentation You can");
  const std::string blocks =
      "<title>A</title><table><tr><td>B</td><td>C</td></tr></table><ul><li>D</li></ul>E<hr>F"
      "<blockquote>G</blockquote><pre>H</pre><center>I</center><dl><dt>J</dt><dd>K</dd></dl>"
      "<section><header>L</header>M<footer>N</footer></section>O";
  EXPECT_EQ(collapse_spaces(strip_markup(blocks)), "A B C D E F G H I J K L M N O");
  EXPECT_EQ(strip_markup("<b>Bold</b>er"), "Bolder");  // inline tags still join
}

TEST(TextClean, Placeholders) {
  EXPECT_EQ(normalise_positional_printf("%2$s of %1$d, 100%%"), "%s of %d, 100%%");
  EXPECT_EQ(placeholders("%s %d %1 {0} {$name} ${var} %(count)s #1 %NAME% $HOME$ %lu %.2f"),
            (std::vector<std::string>{"#1", "$HOME$", "${var}", "%(count)s", "%.2f", "%1", "%NAME%", "%d", "%lu",
                                      "%s", "{$name}", "{0}"}));
  EXPECT_TRUE(placeholders("100% sure, 50 %").empty());
  EXPECT_EQ(placeholders("From ~a to ~s, ~about"), (std::vector<std::string>{"~a", "~s"}));  // Scheme format
  EXPECT_EQ(remove_placeholders("Copy %s to %d"), "Copy   to  ");
}

TEST(TextClean, IdentifierLikeEnglish) {
  EXPECT_TRUE(is_identifier_like("org.gnome.Settings"));
  EXPECT_TRUE(is_identifier_like("a:b"));
  EXPECT_TRUE(is_identifier_like("snake_case"));
  EXPECT_TRUE(is_identifier_like("showAllItems"));
  EXPECT_FALSE(is_identifier_like("Save"));
  EXPECT_FALSE(is_identifier_like("e-mail"));
  EXPECT_FALSE(is_identifier_like("3.5"));
  EXPECT_FALSE(is_identifier_like("Save as: PDF"));
  // Slash-joined words are English, not keys.
  for (const char* words : {"Add/Remove", "Input/Output", "Audio/Video", "GNU/Linux",
                            "Hue/Saturation/Value", "TCP/IP", "I/O"})
    EXPECT_FALSE(is_identifier_like(words)) << words;
  EXPECT_EQ(check_pair("Input/Output", "Eingabe/Ausgabe", "de"), DropReason::kKept);
  // Paths still are: two levels from "/", or a leading "~/", "./", "../", or a dotted part.
  for (const char* path : {"/usr/share/doc", "/etc/passwd", "~/.config", "~/Documents",
                           "./configure", "../lib", "share/icons/hicolor.png",
                           "org/gnome/desktop.interface"})
    EXPECT_TRUE(is_identifier_like(path)) << path;
  // tz database names are keys (and place names): "Indian/Comoro" stays out of the corpus.
  EXPECT_TRUE(is_identifier_like("Indian/Comoro"));
  EXPECT_TRUE(is_identifier_like("America/Argentina/Salta"));
  EXPECT_TRUE(is_identifier_like("US/Eastern"));
  EXPECT_FALSE(is_identifier_like("/"));
  EXPECT_FALSE(is_identifier_like("/Tools"));  // Pidgin's menu paths: "/Werkzeuge"
  EXPECT_FALSE(is_identifier_like("/Go/"));
  // Deliberate extensions of the spec's "a:b", "a.b.c" (docs/corpus.md): '=', '_' and camelCase.
  EXPECT_TRUE(is_identifier_like("key=value"));
}

TEST(TextClean, ScriptPunctuationIsNotALetter) {
  for (char32_t punctuation : {U'\u17D6', U'\u17DA', U'\u1366', U'\u1361', U'\u104C', U'\u104A',
                               U'\u0F0D', U'\u0964', U'\u060C', U'\u2E80', U'\u30FB', U'\u1369'})
    EXPECT_FALSE(is_letter(punctuation)) << std::hex << static_cast<unsigned>(punctuation);
  // Letters and the marks that build them still count: Khmer KA and vowel sign AA,
  // Ethiopic HA, Myanmar KA, Devanagari KA and vowel sign AA, Japanese prolonged sound mark.
  for (char32_t letter :
       {U'\u1780', U'\u17B6', U'\u1200', U'\u1000', U'\u0915', U'\u093E', U'\u30FC'})
    EXPECT_TRUE(is_letter(letter)) << std::hex << static_cast<unsigned>(letter);
  // Near-copies of English with script punctuation are copies (CORPUS.md step 10).
  EXPECT_EQ(check_pair("VOD:", "VOD \u17D6", "km"), DropReason::kCopyOfEnglish);
  EXPECT_EQ(check_pair("URL: %s", "URL\u1366 %s", "am"), DropReason::kCopyOfEnglish);
  // Script punctuation alone is not a letter of the script.
  EXPECT_EQ(check_pair("Stream URL", "Stream link \u1366", "am"), DropReason::kWrongScript);
}

TEST(TextClean, DropRules) {
  EXPECT_EQ(check_pair("Open the file", "Datei öffnen", "de"), DropReason::kKept);
  EXPECT_EQ(check_pair("%s: %d", "%s: %d", "de"), DropReason::kNoEnglishWord);
  EXPECT_EQ(check_pair("Save", "123 !", "de"), DropReason::kNoSourceLetter);
  EXPECT_EQ(check_pair("gtk.button:ok", "OK-Knopf", "de"), DropReason::kIdentifier);
  EXPECT_EQ(check_pair("Open File", "open file!", "de"), DropReason::kCopyOfEnglish);
  EXPECT_EQ(check_pair("Open the main file now", "Open the main file jetzt", "de"), DropReason::kMostlyEnglish);
  EXPECT_EQ(check_pair("This sentence is long enough", "Ja", "de"), DropReason::kLengthRatio);
  std::string long_english;
  for (int i = 0; i < 201; ++i) long_english += "word ";
  EXPECT_EQ(check_pair(long_english, long_english + "x", "de"), DropReason::kTooLong);
  // Non-Latin languages need a letter of their script; Japanese may be all kanji.
  EXPECT_EQ(check_pair("Open the file", "Open das Datei", "ru"), DropReason::kWrongScript);
  EXPECT_EQ(check_pair("Open the file", "Открыть файл", "ru"), DropReason::kKept);
  EXPECT_EQ(check_pair("Settings", "設定", "ja"), DropReason::kKept);
  EXPECT_EQ(check_pair("Settings", "設定", "ko"), DropReason::kKept);
  // Scripts without spaces count length in characters / 4.
  std::string english_25_words, hanzi_400, hanzi_810;
  for (int i = 0; i < 25; ++i) english_25_words += "settings ";
  for (int i = 0; i < 400; ++i) hanzi_400 += "设";
  for (int i = 0; i < 810; ++i) hanzi_810 += "设";
  EXPECT_EQ(check_pair(english_25_words, hanzi_400, "zh-Hans"), DropReason::kKept);
  EXPECT_EQ(check_pair(english_25_words, hanzi_810, "zh-Hans"), DropReason::kTooLong);
}

TEST(TextClean, CleanPairRunsEveryStepAndSplitsLines) {
  const CleanedPairs both = clean_pair("<b>_Open</b> %1$s\nClose it", "<b>_Öffnen</b> %1$s\nSchließen", "de",
                                       kGtk, kGtk, false);
  ASSERT_EQ(both.pairs.size(), 2u);
  EXPECT_EQ(both.pairs[0], std::make_pair(std::string("Öffnen %s"), std::string("Open %s")));
  EXPECT_EQ(both.pairs[1], std::make_pair(std::string("Schließen"), std::string("Close it")));

  const CleanedPairs joined = clean_pair("One line\nand another", "Eine Zeile und noch eine", "de", kGtk, kGtk, false);
  ASSERT_EQ(joined.pairs.size(), 1u);
  EXPECT_EQ(joined.pairs[0].second, "One line and another");

  // Line pairs need the same placeholders too; if one differs, the entry stays one pair.
  const CleanedPairs shifted =
      clean_pair("A wireless encryption key is required for\nthe network %s.",
                 "无线网络“%s”\n需要无线加密密钥", "zh-Hans", kGtk, kGtk, false);
  ASSERT_EQ(shifted.pairs.size(), 1u);
  EXPECT_EQ(shifted.pairs[0].second, "A wireless encryption key is required for the network %s.");

  EXPECT_EQ(clean_pair("Delete %s", "Löschen", "de", kGtk, kGtk, false).reason, DropReason::kPlaceholders);
  EXPECT_EQ(clean_pair("Copy %1$s to %2$s", "%2$s nach %1$s kopieren", "de", kGtk, kGtk, false).reason,
            DropReason::kKept);
  EXPECT_EQ(clean_pair("Open", "FenÃªtre", "fr", kGtk, kGtk, false).reason, DropReason::kMojibake);
  EXPECT_EQ(clean_pair("Open", "bad \xFF", "fr", kGtk, kGtk, false).reason, DropReason::kBadEncoding);
  EXPECT_EQ(clean_pair("~Save", "~Speichern", "de", kLibreOffice, kLibreOffice, true).pairs[0].first, "Speichern");
}

}  // namespace
}  // namespace moe::data
