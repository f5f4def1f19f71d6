#pragma once
// Writes a config struct as YAML (every field, defaults filled, one comment
// per field), and lists its keys for --help; both through visit().
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/schema.h"

namespace moe::config {

std::string format_double(double x);  // shortest text that reads back to the same double

class Dumper {
 public:
  explicit Dumper(YAML::Emitter& out) : out_(out) {}

  template <typename T>
  void field(const char* name, const T& value, const char* doc, Range = {}) {
    out_ << YAML::Key << name << YAML::Value;
    emit(value);
    if (doc && *doc) out_ << YAML::Comment(doc);
  }
  template <typename S>
  void section(const char* name, S& s, const char* doc) {
    out_ << YAML::Key << name;
    if (doc && *doc) out_ << YAML::Comment(doc);
    out_ << YAML::Value << YAML::BeginMap;
    visit(*this, s);
    out_ << YAML::EndMap;
  }

 private:
  void emit(bool v) { out_ << (v ? "true" : "false"); }
  void emit(int v) { out_ << v; }
  void emit(std::int64_t v) { out_ << v; }
  void emit(double v) { out_ << format_double(v); }
  void emit(const std::string& v) { out_ << YAML::DoubleQuoted << v; }
  // Absolute: a dump is read back from wherever it is saved (RUN/recipe.yaml,
  // a checkpoint), and a relative path would then resolve against that folder.
  void emit(const Path& v) {
    out_ << YAML::DoubleQuoted
         << (v.value.empty() || v.dump_verbatim ? v.value
                                                 : std::filesystem::absolute(v.value).lexically_normal().string());
  }
  void emit(const std::vector<std::string>& v) {
    out_ << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : v) out_ << YAML::DoubleQuoted << s;
    out_ << YAML::EndSeq;
  }
  template <typename E>
    requires std::is_enum_v<E>
  void emit(E v) {
    out_ << enum_name(v);
  }

  YAML::Emitter& out_;
};

// The full YAML text of `s`.
template <typename S>
std::string dump_config(S& s) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Dumper d(out);
  visit(d, s);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// One line per key: "key  TYPE  default  doc", for --help.
class KeyLister {
 public:
  struct Row {
    std::string key, type, value, doc;
  };
  std::vector<Row> rows;

  // The rows as aligned columns (key, type, default, meaning), each as wide as
  // its widest entry so long enum choices do not run into the next column.
  std::string table() const;

  template <typename T>
  void field(const char* name, const T& value, const char* doc, Range = {}) {
    rows.push_back({qualified(name), type_name(value), text(value), doc});
  }
  template <typename S>
  void section(const char* name, S& s, const char*) {
    prefix_.push_back(name);
    visit(*this, s);
    prefix_.pop_back();
  }

 private:
  std::string qualified(const char* name) const {
    std::string k;
    for (const auto& p : prefix_) k += p + ".";
    return k + name;
  }
  static std::string type_name(bool) { return "bool"; }
  static std::string type_name(int) { return "int"; }
  static std::string type_name(std::int64_t) { return "int"; }
  static std::string type_name(double) { return "float"; }
  static std::string type_name(const std::string&) { return "string"; }
  static std::string type_name(const Path&) { return "path"; }
  static std::string type_name(const std::vector<std::string>&) { return "list"; }
  template <typename E>
    requires std::is_enum_v<E>
  static std::string type_name(E) {
    return enum_choices<E>();
  }
  static std::string text(bool v) { return v ? "true" : "false"; }
  static std::string text(int v) { return std::to_string(v); }
  static std::string text(std::int64_t v) { return std::to_string(v); }
  static std::string text(double v) { return format_double(v); }
  static std::string text(const std::string& v) { return "\"" + v + "\""; }
  static std::string text(const Path& v) { return "\"" + v.value + "\""; }
  static std::string text(const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s + "]";
  }
  template <typename E>
    requires std::is_enum_v<E>
  static std::string text(E v) {
    return enum_name(v);
  }
  std::vector<std::string> prefix_;
};

}  // namespace moe::config
