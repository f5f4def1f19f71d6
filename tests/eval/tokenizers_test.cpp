// Tokenizer expectations written by hand from METRICS.md §2.2 and §4.1.
#include "eval/tokenizers.h"

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::eval {
namespace {

std::string tok(const std::string& line, Tokenizer t) {
  return utf8::encode(tokenize(utf8::decode(line), t));
}

std::string tercom(const std::string& line, TercomOptions options = {}) {
  return utf8::encode(tokenize_tercom(utf8::decode(line), options));
}

TEST(Tokenizer13a, SplitsAsciiPunctuationButNotNonAscii) {
  EXPECT_EQ(tok("It costs $1,000.50 (approx. €925).", Tokenizer::k13a),
            "It costs $ 1,000.50 ( approx . €925 ) .");
  EXPECT_EQ(tok("„Guten Tag“ – sagte er…", Tokenizer::k13a), "„Guten Tag“ – sagte er…");
}

TEST(Tokenizer13a, KeepsApostrophesAndHyphensInsideWords) {
  EXPECT_EQ(tok("don't use state-of-the-art e-mail", Tokenizer::k13a),
            "don't use state-of-the-art e-mail");
}

TEST(Tokenizer13a, SplitsDashAfterDigitAndFinalPeriodAfterNumber) {
  EXPECT_EQ(tok("2019-2020 and a 42-year-old", Tokenizer::k13a), "2019 - 2020 and a 42 - year-old");
  // The padding space makes the final "." a non-digit neighbour (R3).
  EXPECT_EQ(tok("in 2019.", Tokenizer::k13a), "in 2019 .");
  EXPECT_EQ(tok("pi is 3.14", Tokenizer::k13a), "pi is 3.14");
}

TEST(Tokenizer13a, PairScanConsumesBothCharacters) {
  // R2 matches "x," and consumes the comma, so ".5" never gets its own R2 match.
  EXPECT_EQ(tok("x,.5", Tokenizer::k13a), "x , .5");
  // With a space before the dot, R2 matches " ." and R3 cannot split ".5": "." then "5"
  // come apart only because R2 appended a space after the dot.
  EXPECT_EQ(tok("a .5", Tokenizer::k13a), "a . 5");
  EXPECT_EQ(tok("U.S.-based", Tokenizer::k13a), "U . S . -based");
}

TEST(Tokenizer13a, UnescapesOnlyFourEntitiesInOrder) {
  EXPECT_EQ(tok("Tom &amp; Jerry &quot;x&quot; &apos;s", Tokenizer::k13a),
            "Tom & Jerry \" x \" & apos ; s");
  EXPECT_EQ(tok("&amp;lt;", Tokenizer::k13a), "<");
  EXPECT_EQ(tok("&amp;quot;", Tokenizer::k13a), "& quot ;");
  EXPECT_EQ(tok("a<skipped>b", Tokenizer::k13a), "ab");
}

TEST(TokenizerIntl, SplitsUnicodePunctuationExceptBetweenNumbers) {
  EXPECT_EQ(tok("don't", Tokenizer::kIntl), "don ' t");
  EXPECT_EQ(tok("dit-il", Tokenizer::kIntl), "dit - il");
  EXPECT_EQ(tok("1,000.50 at 12:30", Tokenizer::kIntl), "1,000.50 at 12:30");
  EXPECT_EQ(tok("«Bonjour», dit-elle…", Tokenizer::kIntl), "« Bonjour » , dit - elle …");
  // Quirk: a final "." after a digit stays attached (nothing follows it).
  EXPECT_EQ(tok("in 2023.", Tokenizer::kIntl), "in 2023.");
}

TEST(TokenizerIntl, SplitsEverySymbol) {
  EXPECT_EQ(tok("€925 ±2°", Tokenizer::kIntl), "€ 925 ± 2 °");
  EXPECT_EQ(tok("🇨🇦", Tokenizer::kIntl), "🇨 🇦");
  // ZWJ (Cf) is neither P nor S, so it survives as its own token between the emoji.
  EXPECT_EQ(tok("👨\u200D👩", Tokenizer::kIntl), "👨 \u200D 👩");
}

TEST(TokenizerIntl, UsesUnicode15Categories) {
  // U+1FAE8 SHAKING FACE is new in Unicode 15.0 (So); U+1FADC is only assigned in 16.0.
  EXPECT_EQ(tok("a\U0001FAE8b", Tokenizer::kIntl), "a \U0001FAE8 b");
  EXPECT_EQ(tok("a\U0001FADCb", Tokenizer::kIntl), "a\U0001FADCb");
}

TEST(TokenizerZh, IsolatesTableCharactersThenAppliesMtevalRules) {
  EXPECT_EQ(tok("我爱你。", Tokenizer::kZh), "我 爱 你 。");
  EXPECT_EQ(tok("Hello, world.", Tokenizer::kZh), "Hello , world .");
  // U+2001..U+2A6D is inside the table (curly quotes, €), U+20BB7 is not.
  EXPECT_EQ(tok("“Hi”€", Tokenizer::kZh), "“ Hi ” €");
  EXPECT_EQ(tok("a𠮷b", Tokenizer::kZh), "a𠮷b");
  // No padding: a final "." after a digit stays.
  EXPECT_EQ(tok("3.0.", Tokenizer::kZh), "3.0.");
  EXPECT_EQ(tok("ｘ１", Tokenizer::kZh), "ｘ １");
}

TEST(TokenizerZh, RangeTableQuirks) {
  EXPECT_TRUE(is_zh_tokenizer_char(0x2001));
  EXPECT_TRUE(is_zh_tokenizer_char(0x200D));  // ZWJ, via the 5-digit escape quirk
  EXPECT_TRUE(is_zh_tokenizer_char(0x9FBB));
  EXPECT_FALSE(is_zh_tokenizer_char(0x9FBC));
  EXPECT_FALSE(is_zh_tokenizer_char(0x3042));  // Hiragana
  EXPECT_FALSE(is_zh_tokenizer_char(0x20BB7));
}

TEST(TokenizerChar, EveryCodePointIsAToken) {
  EXPECT_EQ(tok("ab c", Tokenizer::kChar), "a b c");
  EXPECT_EQ(tok("e\u0301!", Tokenizer::kChar), "e \u0301 !");
}

TEST(TokenizerNone, LeavesTheLine) {
  EXPECT_EQ(tok("a,b  c.", Tokenizer::kNone), "a,b  c.");
}

TEST(TokenizerNames, ParseAndReject) {
  EXPECT_EQ(parse_tokenizer("intl"), Tokenizer::kIntl);
  EXPECT_STREQ(tokenizer_name(Tokenizer::k13a), "13a");
  EXPECT_THROW(parse_tokenizer("13b"), InputError);
}

TEST(TokenizerTercom, DefaultLowercasesAndKeepsPunctuation) {
  EXPECT_EQ(tercom("Hello,  World."), "hello, world.");
  EXPECT_EQ(tercom("Hello", {.case_sensitive = true}), "Hello");
  EXPECT_EQ(tercom(""), "");
}

TEST(TokenizerTercom, NormalizedSplitsPossessiveAndPunctuation) {
  EXPECT_EQ(tercom("It's John's dog.", {.normalized = true}), "it 's john 's dog .");
  EXPECT_EQ(tercom("&QUOT;x&QUOT;", {.normalized = true}), "\" x \"");
}

TEST(TokenizerTercom, NoPunctDeletesTheNineCharacters) {
  EXPECT_EQ(tercom("Hello, (world)! a-b's", {.no_punct = true}), "hello world a-b's");
  EXPECT_EQ(tercom("你好。", {.no_punct = true, .asian_support = true}), "你好");
}

}  // namespace
}  // namespace moe::eval
