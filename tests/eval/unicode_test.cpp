// Python str.lower()/isspace() and Unicode class expectations (METRICS.md §1.2, §1.3).
#include "eval/unicode.h"

#include <gtest/gtest.h>

#include "util/utf8.h"

namespace moe::eval {
namespace {

std::string lower(const std::string& s) { return utf8::encode(python_lower(utf8::decode(s))); }

TEST(PythonLower, DottedCapitalIGrowsToTwoCodePoints) {
  EXPECT_EQ(lower("İstanbul"), "i\u0307stanbul");
  EXPECT_EQ(lower("I"), "i");  // no Turkish dotless i
}

TEST(PythonLower, FinalSigmaDependsOnContext) {
  EXPECT_EQ(lower("ΟΔΟΣ ΚΛΕΙΣΤΗΣ."), "οδος κλειστης.");
  EXPECT_EQ(lower("ΣΑ"), "σα");     // nothing cased before it
  EXPECT_EQ(lower("ΑΣΑ"), "ασα");   // cased letter after it
  EXPECT_EQ(lower("ΑΣ'Α"), "ασ'α");  // the apostrophe is case-ignorable, skipped
}

TEST(PythonLower, SpecialLettersAndNoCaseFolding) {
  EXPECT_EQ(lower("ẞ ǅ Ⅻ Ａ ß"), "ß ǆ ⅻ ａ ß");
  EXPECT_EQ(lower("&QUOT;"), "&quot;");
}

TEST(PythonWhitespace, SeparatorsAndNonSeparators) {
  for (char32_t c : {U'\t', U'\r', U' ', U'\u00A0', U'\u2009', U'\u202F', U'\u3000', U'\u001C'}) {
    EXPECT_TRUE(is_python_space(c)) << static_cast<unsigned>(c);
  }
  for (char32_t c : {U'\u200B', U'\u200D', U'\uFEFF', U'a'}) {
    EXPECT_FALSE(is_python_space(c)) << static_cast<unsigned>(c);
  }
  EXPECT_EQ(utf8::encode(collapse_python_whitespace(utf8::decode("  a\u00A0 b\u200Bc  "))),
            "a b\u200Bc");
  EXPECT_EQ(python_rstrip(U"ab \r\u3000").size(), 2u);
}

TEST(PythonWhitespace, RstripOnUtf8KeepsWholeCodePoints) {
  EXPECT_EQ(python_rstrip_utf8("a b \r\u00A0\u3000\u0085"), "a b");
  EXPECT_EQ(python_rstrip_utf8(" \u00E9\u200B "), " \u00E9\u200B");  // U+200B is no space
  EXPECT_EQ(python_rstrip_utf8("\u4E00\t"), "\u4E00");
  EXPECT_EQ(python_rstrip_utf8(" \t "), "");
  EXPECT_EQ(python_rstrip_utf8("ok\xC3"), "ok\xC3");  // malformed tail: left alone
}

TEST(UnicodeClass, GeneralCategories) {
  EXPECT_EQ(unicode_class(U'5'), UnicodeClass::kNumber);
  EXPECT_EQ(unicode_class(U'\u2167'), UnicodeClass::kNumber);  // Ⅷ Nl
  EXPECT_EQ(unicode_class(U'\u00BD'), UnicodeClass::kNumber);  // ½ No
  EXPECT_EQ(unicode_class(U'\u201C'), UnicodeClass::kPunctuation);
  EXPECT_EQ(unicode_class(U'_'), UnicodeClass::kPunctuation);   // Pc
  EXPECT_EQ(unicode_class(U'\u20AC'), UnicodeClass::kSymbol);   // €
  EXPECT_EQ(unicode_class(U'^'), UnicodeClass::kSymbol);        // Sk
  EXPECT_EQ(unicode_class(U'a'), UnicodeClass::kOther);
  EXPECT_EQ(unicode_class(U'\u0301'), UnicodeClass::kOther);    // Mn
  EXPECT_EQ(unicode_class(U'\U00011F50'), UnicodeClass::kNumber);  // Kawi digit, 15.0
}

}  // namespace
}  // namespace moe::eval
