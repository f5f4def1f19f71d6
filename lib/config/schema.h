#pragma once
// One declaration per config struct drives the YAML reader, --dump-config
// and --help: each struct has a free function
//
//   template <class V> void visit(V& v, FooConfig& c) {
//     v.field("d_model", c.d_model, "model dimension M", Range(1, 65536));
//     v.section("moe", c.moe, "mixture-of-experts layers");
//   }
//
// and every tool that needs the schema is a visitor (reader.h, dump.h).
// Field types: bool, int, std::int64_t, double, std::string, Path,
// std::vector<std::string>, and enums that have an EnumNames specialisation.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace moe::config {

// Inclusive numeric bounds of a field; an unset bound is infinite.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_excluded = false;  // (min, max]: for values that divide, like an epsilon
  Range() = default;
  Range(double lo, double hi) : min(lo), max(hi) {}
  static Range at_least(double lo) { return Range(lo, std::numeric_limits<double>::infinity()); }
  static Range above(double lo, double hi) {
    Range r(lo, hi);
    r.min_excluded = true;
    return r;
  }
  bool contains(double x) const { return (min_excluded ? x > min : x >= min) && x <= max; }
};

// A filesystem path field. Relative paths in a recipe are relative to the
// recipe file that set them (resolved when read); `value` is then absolute or
// relative to the current directory.
struct Path {
  std::string value;
  // Dumped as written instead of made absolute: a path meant relative to the
  // dumped file itself (RUN/recipe.yaml's checkpoint.dir ".").
  bool dump_verbatim = false;
  bool empty() const { return value.empty(); }
  bool operator==(const Path&) const = default;
};

// Specialise for each enum used in a config: a list of {value, name}.
template <typename E>
struct EnumNames;  // static const std::vector<std::pair<E, const char*>>& get();

template <typename E>
const char* enum_name(E value) {
  for (const auto& [v, n] : EnumNames<E>::get())
    if (v == value) return n;
  return "?";
}

template <typename E>
std::string enum_choices() {
  std::string s;
  for (const auto& [v, n] : EnumNames<E>::get()) s += (s.empty() ? "" : "|") + std::string(n);
  return s;
}

}  // namespace moe::config
