#include "util/utf8.h"

#include <gtest/gtest.h>

namespace moe {
namespace {

TEST(Utf8, RoundTripsMultiByteText) {
  const std::string text = "Grüße, 世界 😀";
  const std::u32string cps = utf8::decode(text);
  EXPECT_EQ(cps.size(), 11u);
  EXPECT_EQ(cps[2], U'ü');
  EXPECT_EQ(cps[10], U'\U0001F600');
  EXPECT_EQ(utf8::encode(cps), text);
  EXPECT_EQ(utf8::length(text), 11u);
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_TRUE(utf8::is_valid("plain ascii"));
  EXPECT_FALSE(utf8::is_valid("\xC3"));              // truncated
  EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(utf8::is_valid("\xFF"));
  EXPECT_THROW(utf8::decode("a\x80"), std::invalid_argument);
}

TEST(Utf8, PrintableKeepsTextAndEscapesControlAndInvalidBytes) {
  EXPECT_EQ(utf8::printable("Grüße, 世界"), "Grüße, 世界");
  EXPECT_EQ(utf8::printable(std::string("a\nb\0c\x1b", 6)), "a\\x0Ab\\x00c\\x1B");
  EXPECT_EQ(utf8::printable("got '\xff' \xc3("), "got '\\xFF' \\xC3(");
  EXPECT_EQ(utf8::printable("trailing space  "), "trailing space");
  EXPECT_EQ(utf8::printable("\x7f"), "\\x7F");
}

}  // namespace
}  // namespace moe
