#include "config/dump.h"

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

}  // namespace moe::config
