#include "config/dump.h"

#include <algorithm>
#include <charconv>

namespace moe::config {

std::string format_double(double x) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, p);
  // Keep floats recognisable as floats in the YAML ("2.0", not "2").
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string KeyLister::table() const {
  std::size_t key_w = 0, type_w = 0, value_w = 0;
  for (const auto& r : rows) {
    key_w = std::max(key_w, r.key.size());
    type_w = std::max(type_w, r.type.size());
    value_w = std::max(value_w, r.value.size());
  }
  constexpr std::size_t kGap = 2;
  std::string out;
  for (const auto& r : rows) {
    std::string line = r.key;
    line.resize(key_w + kGap, ' ');
    line += r.type;
    line.resize(key_w + kGap + type_w + kGap, ' ');
    line += r.value;
    if (!r.doc.empty()) {
      line.resize(key_w + kGap + type_w + kGap + value_w + kGap, ' ');
      line += r.doc;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace moe::config
