#include "data/plural_forms.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace moe::data {
namespace {

TEST(PluralForms, GermanicSingularAndPlural) {
  const PluralForms p = PluralForms::parse("nplurals=2; plural=(n != 1);");
  EXPECT_EQ(p.nplurals(), 2);
  EXPECT_EQ(p.index_for(1), 0);
  EXPECT_EQ(p.index_for(0), 1);
  EXPECT_EQ(p.index_for(100), 1);
}

TEST(PluralForms, SlavicThreeForms) {
  const PluralForms p = PluralForms::parse(
      "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);");
  EXPECT_EQ(p.index_for(1), 0);
  EXPECT_EQ(p.index_for(21), 0);
  EXPECT_EQ(p.index_for(11), 2);
  EXPECT_EQ(p.index_for(3), 1);
  EXPECT_EQ(p.index_for(13), 2);
  EXPECT_EQ(p.index_for(100), 2);
}

TEST(PluralForms, ArabicSixFormsAndNestedConditionals) {
  const PluralForms p = PluralForms::parse(
      "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5;");
  EXPECT_EQ(p.index_for(0), 0);
  EXPECT_EQ(p.index_for(1), 1);
  EXPECT_EQ(p.index_for(2), 2);
  EXPECT_EQ(p.index_for(5), 3);
  EXPECT_EQ(p.index_for(99), 4);
  EXPECT_EQ(p.index_for(100), 5);
}

TEST(PluralForms, SingleFormLanguagesMapEverythingToZero) {
  const PluralForms p = PluralForms::parse("nplurals=1; plural=0;");
  EXPECT_EQ(p.index_for(1), 0);
  EXPECT_EQ(p.index_for(100), 0);
}

TEST(PluralForms, OperatorPrecedenceAndNegation) {
  // Slovenian uses + and parentheses; "!" and "<=" must not be confused with "!=" and "<".
  EXPECT_EQ(PluralForms::parse("nplurals=4; plural=(n%100==1 ? 1 : n%100==2 ? 2 : n%100==3 || n%100==4 ? 3 : 0);")
                .index_for(104),
            3);
  EXPECT_EQ(PluralForms::parse("nplurals=2; plural=!(n<=1);").index_for(1), 0);
  EXPECT_EQ(PluralForms::parse("nplurals=2; plural=!(n<=1);").index_for(2), 1);
  EXPECT_EQ(PluralForms::parse("nplurals=3; plural=1 + 2 * n % 3;").index_for(1), 0);  // 1 + (2*1)%3 = 3 -> out of range
  EXPECT_EQ(PluralForms::parse("nplurals=3; plural=n / 0;").index_for(5), 0);          // gettext: no trap
}

TEST(PluralForms, OutOfRangeIndexFallsBackToZero) {
  EXPECT_EQ(PluralForms::parse("nplurals=2; plural=n;").index_for(100), 0);
}

TEST(PluralForms, MalformedHeadersAreInputErrors) {
  EXPECT_THROW(PluralForms::parse("plural=(n != 1);"), InputError);
  EXPECT_THROW(PluralForms::parse("nplurals=2; plural=(n != 1;"), InputError);
  EXPECT_THROW(PluralForms::parse("nplurals=2; plural=n ? 1;"), InputError);
  EXPECT_THROW(PluralForms::parse("nplurals=x; plural=0;"), InputError);
  EXPECT_THROW(PluralForms::parse("nplurals=2; plural=m != 1;"), InputError);
}

}  // namespace
}  // namespace moe::data
