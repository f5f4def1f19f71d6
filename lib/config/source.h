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
  YAML::Node value;      // scalar, sequence or null (the default; maps are flattened away)
  std::string file;      // the recipe file, or "--set" for command-line overrides
  long line = 0;         // 1-based line in `file` (0 for --set)
  std::string base_dir;  // directory relative paths are resolved against
};

class Source {
 public:
  // Loads a recipe file; its `include:` files (a path or a list, relative to
  // the including file) are applied first, in order, then its own keys.
  // Later keys override earlier ones. Throws FileError on syntax errors, a
  // non-mapping document, an include cycle, a key set twice in one file, or
  // aliases that refer to their own mapping or expand past a sane size.
  void add_file(const std::string& path);
  // Applies "key.path=value"; value is parsed as YAML (so lists work: [a, b]).
  // Exactly as a later include setting that key: a mapping value merges into
  // the keys below `key` (keys it does not name keep their values), a scalar
  // or list replaces, null drops everything below `key` (the defaults return).
  void add_override(const std::string& assignment);
  // Merges a YAML mapping (e.g. the recipe stored in a checkpoint), with the
  // same checks as add_file.
  void add_node(const YAML::Node& root, const std::string& origin, const std::string& base_dir);

  const std::map<std::string, Entry>& entries() const { return entries_; }
  // Where `key` was set, as "FILE:LINE" (or "--set").
  std::string where(const std::string& key) const;
  // The first file (or origin of add_node) added: errors about a key that no
  // file sets name it, without a line.
  const std::string& origin() const { return origin_; }

 private:
  struct Walk;
  void add_file_guarded(const std::string& path, std::vector<std::string>& stack);
  void flatten_map(const YAML::Node& map, const std::string& prefix, Walk& walk);
  // Removes every entry below `key` ("key.*"), which a value at `key` replaces.
  void erase_below(const std::string& key);
  std::map<std::string, Entry> entries_;
  std::string origin_;
};

}  // namespace moe::config
