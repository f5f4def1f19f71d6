#include "data/plural_forms.h"

#include <cctype>
#include <vector>

#include "util/error.h"

namespace moe::data {

struct PluralForms::Node {
  enum class Kind { kNumber, kVariable, kNot, kBinary, kConditional } kind;
  unsigned long value = 0;
  std::string op;  // for kBinary: "||", "==", "%", ...
  std::vector<std::unique_ptr<Node>> children;

  unsigned long eval(unsigned long n) const {
    switch (kind) {
      case Kind::kNumber: return value;
      case Kind::kVariable: return n;
      case Kind::kNot: return children[0]->eval(n) == 0;
      case Kind::kConditional:
        return children[0]->eval(n) ? children[1]->eval(n) : children[2]->eval(n);
      case Kind::kBinary: break;
    }
    const unsigned long a = children[0]->eval(n);
    if (op == "||") return a || children[1]->eval(n);
    if (op == "&&") return a && children[1]->eval(n);
    const unsigned long b = children[1]->eval(n);
    if (op == "==") return a == b;
    if (op == "!=") return a != b;
    if (op == "<") return a < b;
    if (op == ">") return a > b;
    if (op == "<=") return a <= b;
    if (op == ">=") return a >= b;
    if (op == "+") return a + b;
    if (op == "-") return a - b;
    if (op == "*") return a * b;
    // gettext's evaluator yields 0 for a division by zero rather than trapping.
    if (op == "/") return b == 0 ? 0 : a / b;
    if (op == "%") return b == 0 ? 0 : a % b;
    return 0;
  }
};

namespace {

using Node = PluralForms::Node;

// Recursive descent over C precedence levels, lowest first.
class ExpressionParser {
 public:
  explicit ExpressionParser(std::string_view text) : text_(text) {}

  std::unique_ptr<Node> parse_all() {
    auto root = conditional();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] != ';') fail("unexpected '" + std::string(1, text_[pos_]) + "'");
    return root;
  }

 private:
  static constexpr const char* kLevels[][4] = {
      {"||", nullptr}, {"&&", nullptr}, {"==", "!=", nullptr}, {"<=", ">=", "<", ">"},
      {"+", "-", nullptr}, {"*", "/", "%", nullptr}};
  static constexpr int kLevelCount = 6;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("Plural-Forms expression '" + std::string(text_) + "': " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(std::string_view token) {
    skip_space();
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  std::unique_ptr<Node> conditional() {
    auto cond = binary(0);
    if (!accept("?")) return cond;
    auto then_branch = conditional();
    if (!accept(":")) fail("missing ':' after '?'");
    auto else_branch = conditional();
    auto node = std::make_unique<Node>(Node{Node::Kind::kConditional, 0, "", {}});
    node->children.push_back(std::move(cond));
    node->children.push_back(std::move(then_branch));
    node->children.push_back(std::move(else_branch));
    return node;
  }

  std::unique_ptr<Node> binary(int level) {
    if (level == kLevelCount) return unary();
    auto left = binary(level + 1);
    for (;;) {
      const char* matched = nullptr;
      for (const char* op : kLevels[level]) {
        if (op == nullptr) break;
        skip_space();
        const std::string_view token(op);
        if (text_.substr(pos_, token.size()) != token) continue;
        // Single-char comparison operators must not match the start of "<=" / ">=".
        if (token.size() == 1 && (token == "<" || token == ">") && pos_ + 1 < text_.size() &&
            text_[pos_ + 1] == '=')
          continue;
        matched = op;
        break;
      }
      if (!matched) return left;
      pos_ += std::string_view(matched).size();
      auto node = std::make_unique<Node>(Node{Node::Kind::kBinary, 0, matched, {}});
      node->children.push_back(std::move(left));
      node->children.push_back(binary(level + 1));
      left = std::move(node);
    }
  }

  std::unique_ptr<Node> unary() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '!' &&
        (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '=')) {
      ++pos_;
      auto node = std::make_unique<Node>(Node{Node::Kind::kNot, 0, "", {}});
      node->children.push_back(unary());
      return node;
    }
    return primary();
  }

  std::unique_ptr<Node> primary() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      auto inner = conditional();
      if (!accept(")")) fail("missing ')'");
      return inner;
    }
    if (c == 'n') {
      ++pos_;
      return std::make_unique<Node>(Node{Node::Kind::kVariable, 0, "", {}});
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      unsigned long value = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])))
        value = value * 10 + static_cast<unsigned long>(text_[pos_++] - '0');
      return std::make_unique<Node>(Node{Node::Kind::kNumber, value, "", {}});
    }
    fail("unexpected '" + std::string(1, c) + "'");
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// Value of `key=` inside "nplurals=3; plural=...;", or empty.
std::string_view field(std::string_view header, std::string_view key) {
  for (std::size_t at = header.find(key); at != std::string_view::npos; at = header.find(key, at + 1)) {
    if (at > 0 && std::isalpha(static_cast<unsigned char>(header[at - 1]))) continue;
    std::size_t p = at + key.size();
    while (p < header.size() && header[p] == ' ') ++p;
    if (p >= header.size() || header[p] != '=') continue;
    ++p;
    std::size_t end = header.find(';', p);
    return header.substr(p, end == std::string_view::npos ? std::string_view::npos : end - p);
  }
  return {};
}

}  // namespace

PluralForms::PluralForms(int nplurals, std::unique_ptr<Node> root)
    : nplurals_(nplurals), root_(std::move(root)) {}
PluralForms::PluralForms(PluralForms&&) noexcept = default;
PluralForms& PluralForms::operator=(PluralForms&&) noexcept = default;
PluralForms::~PluralForms() = default;

PluralForms PluralForms::parse(std::string_view header_value) {
  const std::string_view count = field(header_value, "nplurals");
  const std::string_view expression = field(header_value, "plural");
  if (count.empty() || expression.empty())
    throw InputError("Plural-Forms '" + std::string(header_value) + "': needs nplurals= and plural=");
  int nplurals = 0;
  for (char c : count) {
    if (c == ' ') continue;
    if (!std::isdigit(static_cast<unsigned char>(c)) || nplurals > 100)
      throw InputError("Plural-Forms '" + std::string(header_value) + "': bad nplurals");
    nplurals = nplurals * 10 + (c - '0');
  }
  if (nplurals < 1) throw InputError("Plural-Forms '" + std::string(header_value) + "': nplurals < 1");
  return PluralForms(nplurals, ExpressionParser(expression).parse_all());
}

PluralForms PluralForms::germanic() { return parse("nplurals=2; plural=(n != 1);"); }

int PluralForms::index_for(unsigned long n) const {
  const unsigned long index = root_->eval(n);
  return index >= static_cast<unsigned long>(nplurals_) ? 0 : static_cast<int>(index);
}

}  // namespace moe::data
