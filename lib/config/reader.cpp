#include "config/reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace moe::config {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string closest_key(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& k : known) {
    // Compare the last component too, so "model.moe.capacity_facter" finds its
    // sibling even when the prefix is long.
    const std::size_t d = edit_distance(key, k);
    if (d < best_d) best_d = d, best = k;
  }
  const std::size_t limit = std::max<std::size_t>(2, key.size() / 3);
  return best_d <= limit ? best : "";
}

bool parse_bool(const std::string& s) {
  const std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "no" || l == "off") return false;
  throw std::invalid_argument("expected true or false, got '" + s + "'");
}

std::int64_t parse_int(const std::string& s) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec == std::errc() && p == end) return v;
  // 1e6 and 2.0 are integers too when they are whole numbers.
  double d = 0;
  auto [q, ec2] = std::from_chars(s.data(), end, d);
  if (ec2 == std::errc() && q == end && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 9.0e18)
    return static_cast<std::int64_t>(d);
  throw std::invalid_argument("expected an integer, got '" + s + "'");
}

double parse_double(const std::string& s) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec == std::errc() && p == end && std::isfinite(v)) return v;
  throw std::invalid_argument("expected a number, got '" + s + "'");
}

std::string resolve_path(const std::string& value, const std::string& base_dir) {
  if (value.empty() || base_dir.empty()) return value;
  std::filesystem::path p(value);
  if (p.is_absolute()) return value;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

std::string describe(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, p);
}

void Reader::reject_unknown_keys() const {
  for (const auto& [key, entry] : source_.entries()) {
    if (used_.count(key)) continue;
    std::string msg = "unknown key '" + key + "'";
    const std::string hint = closest_key(key, known_);
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    throw FileError(entry.file, entry.line, msg);
  }
}

}  // namespace moe::config
