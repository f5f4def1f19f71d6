#pragma once
// Reads a config struct from a Source through its visit() declaration.
// Every error names where the offending value was set ("FILE:LINE: key
// 'model.d_model': ..."); keys no struct declares are errors too, with the
// closest declared key as a suggestion.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/schema.h"
#include "config/source.h"
#include "util/error.h"

namespace moe::config {

// The declared key closest to `key` by edit distance, or "" if none is close.
std::string closest_key(const std::string& key, const std::vector<std::string>& known);

// Scalar conversions shared by the reader; each throws std::invalid_argument
// with a message describing what was expected.
bool parse_bool(const std::string& s);
std::int64_t parse_int(const std::string& s);
double parse_double(const std::string& s);
std::string resolve_path(const std::string& value, const std::string& base_dir);
std::string describe(double x);

class Reader {
 public:
  explicit Reader(const Source& source) : source_(source) {}

  template <typename T>
  void field(const char* name, T& value, const char* doc, Range range = {}) {
    const std::string key = qualified(name);
    known_.push_back(key);
    const auto it = source_.entries().find(key);
    if (it == source_.entries().end()) return;  // default stays
    used_.insert(key);
    const Entry& e = it->second;
    // "key:" with no value, or --set key=null: the default, as for a section.
    if (e.value.IsNull()) return;
    try {
      read(e, value);
      if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
        if (!range.contains(static_cast<double>(value)))
          throw std::invalid_argument(describe(static_cast<double>(value)) +
                                      " is out of range " + (range.min_excluded ? "(" : "[") +
                                      describe(range.min) + ", " +
                                      describe(range.max) + "]");
      }
    } catch (const std::invalid_argument& ex) {
      throw FileError(e.file, e.line, "key '" + key + "': " + ex.what());
    }
  }

  template <typename S>
  void section(const char* name, S& s, const char* doc) {
    const std::string key = qualified(name);
    const auto it = source_.entries().find(key);
    if (it != source_.entries().end() && !it->second.value.IsNull())
      throw FileError(it->second.file, it->second.line,
                      "key '" + key + "': expected a mapping of '" + key + ".*' keys");
    if (it != source_.entries().end()) used_.insert(key);  // "section:" with nothing under it
    prefix_.push_back(name);
    visit(*this, s);
    prefix_.pop_back();
  }

  // Throws for the first key in the source that no visited struct declared.
  void reject_unknown_keys() const;

 private:
  std::string qualified(const char* name) const {
    std::string k;
    for (const auto& p : prefix_) k += p + ".";
    return k + name;
  }
  static const std::string& scalar(const Entry& e) {
    if (!e.value.IsScalar()) throw std::invalid_argument("expected a single value, not a list");
    return e.value.Scalar();
  }
  static void read(const Entry& e, bool& v) { v = parse_bool(scalar(e)); }
  static void read(const Entry& e, int& v) {
    const std::int64_t x = parse_int(scalar(e));
    if (x < INT32_MIN || x > INT32_MAX) throw std::invalid_argument(scalar(e) + " is too large");
    v = static_cast<int>(x);
  }
  static void read(const Entry& e, std::int64_t& v) { v = parse_int(scalar(e)); }
  static void read(const Entry& e, double& v) { v = parse_double(scalar(e)); }
  static void read(const Entry& e, std::string& v) { v = scalar(e); }
  static void read(const Entry& e, Path& v) { v.value = resolve_path(scalar(e), e.base_dir); }
  static void read(const Entry& e, std::vector<std::string>& v) {
    v.clear();
    if (e.value.IsScalar()) {
      v.push_back(e.value.Scalar());
      return;
    }
    for (const auto& item : e.value) {
      if (!item.IsScalar()) throw std::invalid_argument("expected a list of plain values");
      v.push_back(item.Scalar());
    }
  }
  template <typename E>
    requires std::is_enum_v<E>
  static void read(const Entry& e, E& v) {
    const std::string& s = scalar(e);
    for (const auto& [value, name] : EnumNames<E>::get()) {
      if (s == name) {
        v = value;
        return;
      }
    }
    throw std::invalid_argument("'" + s + "' is not one of " + enum_choices<E>());
  }

  const Source& source_;
  std::vector<std::string> prefix_;
  std::vector<std::string> known_;
  std::set<std::string> used_;
};

// Reads `s` from `source` and rejects unknown keys.
template <typename S>
void read_config(const Source& source, S& s) {
  Reader r(source);
  visit(r, s);
  r.reject_unknown_keys();
}

}  // namespace moe::config
