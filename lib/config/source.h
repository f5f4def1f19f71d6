#pragma once
// The effective key/value set of a recipe: YAML files (with `include:`) and
// `--set key.path=value` overrides, flattened to dotted keys, each remembering
// the file and line that set it, so that every error can point at its origin.
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace moe::config {

struct Entry {
  YAML::Node value;      // scalar, sequence or null (maps are flattened away)
  std::string file;      // the recipe file, or "--set" for command-line overrides
  long line = 0;         // 1-based line in `file` (0 for --set)
  std::string base_dir;  // directory relative paths are resolved against
};

class Source {
 public:
  // Loads a recipe file; its `include:` files (a path or a list, relative to
  // the including file) are applied first, in order, then its own keys.
  // Later keys override earlier ones. Throws FileError on syntax errors, a
  // non-mapping document, or an include cycle.
  void add_file(const std::string& path);
  // Applies "key.path=value"; value is parsed as YAML (so lists work: [a, b]).
  void add_override(const std::string& assignment);
  // Merges a YAML mapping (e.g. the recipe stored in a checkpoint).
  void add_node(const YAML::Node& root, const std::string& origin, const std::string& base_dir);

  const std::map<std::string, Entry>& entries() const { return entries_; }
  // Where `key` was set, as "FILE:LINE" (or "--set").
  std::string where(const std::string& key) const;

 private:
  void add_file_guarded(const std::string& path, std::vector<std::string>& stack);
  void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
               const std::string& base_dir);
  void flatten_pair(const YAML::Node& key_node, const YAML::Node& value, const std::string& prefix,
                    const std::string& file, const std::string& base_dir);
  std::map<std::string, Entry> entries_;
};

}  // namespace moe::config
