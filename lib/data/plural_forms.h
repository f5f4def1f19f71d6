#pragma once
// The gettext Plural-Forms header: "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : ...);".
// The expression is a C subset over the unsigned variable n (?:, || && ! ==
// != < > <= >= + - * / % and parentheses), evaluated as GNU gettext does, with
// unsigned long arithmetic. The corpus uses it to pick which msgstr translates
// the singular (n=1) and which the plural (n=100) English string.
#include <memory>
#include <string>
#include <string_view>

namespace moe::data {

class PluralForms {
 public:
  // Parses the header value; throws InputError with the offending text when
  // it is malformed. "nplurals=2; plural=n != 1;" is gettext's default.
  static PluralForms parse(std::string_view header_value);
  static PluralForms germanic();

  PluralForms(PluralForms&&) noexcept;
  PluralForms& operator=(PluralForms&&) noexcept;
  ~PluralForms();

  int nplurals() const { return nplurals_; }
  // The msgstr index for n, 0 when the expression yields an index >= nplurals
  // (what GNU gettext's lookup does).
  int index_for(unsigned long n) const;

  struct Node;

 private:
  PluralForms(int nplurals, std::unique_ptr<Node> root);
  int nplurals_;
  std::unique_ptr<Node> root_;
};

}  // namespace moe::data
