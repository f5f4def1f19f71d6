#include "data/nfc.h"

#include <gtest/gtest.h>

namespace moe::data {
namespace {

TEST(Nfc, ComposesDecomposedLatin) {
  EXPECT_EQ(normalize_nfc("e\xCC\x81t\xC3\xA9"), "\xC3\xA9t\xC3\xA9");       // e + U+0301 -> é
  EXPECT_EQ(normalize_nfc("A\xCC\x8A"), "\xC3\x85");                         // A + ring -> Å
  EXPECT_EQ(normalize_nfc("\xE2\x84\xAB"), "\xC3\x85");                      // ANGSTROM SIGN (singleton) -> Å
  EXPECT_EQ(normalize_nfc("plain ASCII, Latin-1: \xC3\xBC"), "plain ASCII, Latin-1: \xC3\xBC");
}

TEST(Nfc, OrdersCombiningMarksAndRespectsBlocking) {
  // q + dot below (220) + dot above (230) in either order is the same NFC.
  EXPECT_EQ(normalize_nfc("q\xCC\x87\xCC\xA3"), "q\xCC\xA3\xCC\x87");
  // Vietnamese: a + circumflex + acute -> U+1EA5 (ấ), composed in two steps.
  EXPECT_EQ(normalize_nfc("a\xCC\x82\xCC\x81"), "\xE1\xBA\xA5");
  // a + dot below + acute: a+0323 composes to U+1EA1 (ạ), which has no acute composite.
  EXPECT_EQ(normalize_nfc("a\xCC\xA3\xCC\x81"), "\xE1\xBA\xA1\xCC\x81");
}

TEST(Nfc, CompositionExclusionsStayDecomposed) {
  // Bengali YYA U+09DF is excluded from composition: NFC is U+09AF U+09BC.
  EXPECT_EQ(normalize_nfc("\xE0\xA7\x9F"), "\xE0\xA6\xAF\xE0\xA6\xBC");
  // Devanagari QA U+0958 likewise.
  EXPECT_EQ(normalize_nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");
  // Bengali O: U+09C7 + U+09BE composes to U+09CB.
  EXPECT_EQ(normalize_nfc("\xE0\xA7\x87\xE0\xA6\xBE"), "\xE0\xA7\x8B");
  EXPECT_FALSE(is_nfc("\xE0\xA7\x9F"));
  EXPECT_TRUE(is_nfc("\xE0\xA7\x8B"));
}

TEST(Nfc, HangulComposesArithmetically) {
  // U+1112 U+1161 U+11AB (conjoining jamo) -> U+D55C (한)
  EXPECT_EQ(normalize_nfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "\xED\x95\x9C");
  EXPECT_EQ(normalize_nfc("\xED\x95\x9C\xEA\xB8\x80"), "\xED\x95\x9C\xEA\xB8\x80");  // 한글 unchanged
}

TEST(Nfc, TablesKnowTheirVersion) { EXPECT_STRNE(nfc_unicode_version(), ""); }

}  // namespace
}  // namespace moe::data
