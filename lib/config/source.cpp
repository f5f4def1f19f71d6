#include "config/source.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "util/error.h"

namespace moe::config {
namespace fs = std::filesystem;

namespace {
long line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

// Aliases can make a recipe's node graph cyclic (`a: &a {b: *a}`) or expand
// exponentially (each level repeating the one before); flattening stops at
// these bounds instead of recursing forever or filling memory. The schema
// nests three deep (model.moe.top_k) and has about 100 keys.
constexpr std::size_t kMaxDepth = 16;
constexpr std::size_t kMaxKeys = 10000;

std::string first_at(long line) {
  return line > 0 ? " (first at line " + std::to_string(line) + ")" : "";
}
}  // namespace

// Flattening one YAML document (a file, a --set value, a stored recipe).
struct Source::Walk {
  Walk(std::string origin, std::string dir) : file(std::move(origin)), base_dir(std::move(dir)) {}
  std::string file;
  std::string base_dir;
  bool has_lines = true;      // false for --set: its marks are positions in the option's text
  bool skip_include = false;  // a file's top-level `include:` was applied before its keys
  std::vector<YAML::Node> open_maps;  // the mappings being flattened, outermost first
  std::map<std::string, long> set_at;  // dotted keys this document set, with their lines
  std::size_t keys = 0;                // pairs visited, aliases expanded
  // The top-level key being flattened: with aliases, an inner key's line is
  // where the repeated mapping was written, not where it was expanded.
  std::string top_key;
  long top_line = 0;

  long line(const YAML::Node& n) const { return has_lines ? line_of(n) : 0; }
};

void Source::add_file(const std::string& path) {
  if (origin_.empty()) origin_ = path;
  std::vector<std::string> stack;
  add_file_guarded(path, stack);
}

void Source::add_file_guarded(const std::string& path, std::vector<std::string>& stack) {
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(path, ec).string();
  if (!fs::is_regular_file(path)) throw FileError(path, 0, "no such recipe file");
  if (std::find(stack.begin(), stack.end(), canonical) != stack.end())
    throw FileError(path, 0, "include cycle: the file includes itself");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::DeepRecursion& e) {  // its message is a misleading "bad file"
    throw FileError(path, e.mark.line + 1, "YAML syntax error: nested too deeply");
  } catch (const YAML::ParserException& e) {
    throw FileError(path, e.mark.line + 1, "YAML syntax error: " + e.msg);
  } catch (const YAML::BadFile&) {
    throw FileError(path, 0, "cannot read the file");
  }
  if (root.IsNull()) return;  // an empty file sets nothing
  if (!root.IsMap()) throw FileError(path, line_of(root), "a recipe must be a YAML mapping");

  const std::string dir = fs::path(path).parent_path().string();
  stack.push_back(canonical);
  if (const YAML::Node inc = root["include"]) {
    std::vector<YAML::Node> items;
    if (inc.IsScalar()) {
      items.push_back(inc);
    } else if (inc.IsSequence()) {
      for (const auto& item : inc) items.push_back(item);
    } else {
      throw FileError(path, line_of(inc), "include: expected a path or a list of paths");
    }
    for (const auto& item : items) {
      if (!item.IsScalar()) throw FileError(path, line_of(item), "include: expected a path");
      fs::path p = item.as<std::string>();
      if (p.is_relative()) p = fs::path(dir) / p;
      if (!fs::is_regular_file(p))
        throw FileError(path, line_of(item), "include: no such file '" + p.string() + "'");
      add_file_guarded(p.string(), stack);
    }
  }
  stack.pop_back();
  // Not YAML::Clone + remove `include`: a clone loses the line marks.
  Walk walk(path, dir);
  walk.skip_include = true;
  flatten_map(root, "", walk);
}

void Source::add_node(const YAML::Node& root, const std::string& origin,
                      const std::string& base_dir) {
  if (origin_.empty()) origin_ = origin;
  if (!root.IsMap()) throw FileError(origin, 0, "a recipe must be a YAML mapping");
  Walk walk(origin, base_dir);
  flatten_map(root, "", walk);
}

void Source::add_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + assignment + ": expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::DeepRecursion&) {
    throw InputError("--set " + assignment + ": cannot parse the value: nested too deeply");
  } catch (const YAML::ParserException& e) {
    throw InputError("--set " + assignment + ": cannot parse the value: " + e.msg);
  }
  // Remove what the key replaces: a scalar set on a former map drops the map,
  // a map set on a former scalar drops the scalar.
  erase_below(key);
  if (value.IsMap()) {
    entries_.erase(key);
    Walk walk("--set", fs::current_path().string());
    walk.has_lines = false;
    flatten_map(value, key, walk);
  } else {
    entries_[key] = Entry{value, "--set", 0, fs::current_path().string()};
  }
}

void Source::flatten_map(const YAML::Node& map, const std::string& prefix, Walk& walk) {
  const bool root = walk.open_maps.empty();
  walk.open_maps.push_back(map);
  std::map<std::string, long> names;  // this mapping's keys, with their lines
  for (const auto& kv : map) {
    const long line = walk.line(kv.first);
    if (!kv.first.IsScalar()) throw FileError(walk.file, line, "keys must be plain names");
    const std::string& name = kv.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    // yaml-cpp keeps both pairs of a repeated key; the later would silently win.
    const auto [first, fresh] = names.emplace(name, line);
    if (!fresh)
      throw FileError(walk.file, line, "key '" + key + "' appears twice" + first_at(first->second));
    if (root && walk.skip_include && name == "include") continue;
    if (root) {
      walk.top_key = key;
      walk.top_line = line;
    }
    if (++walk.keys > kMaxKeys)
      throw FileError(walk.file, walk.top_line,
                      "key '" + walk.top_key + "' expands the recipe to more than " +
                          std::to_string(kMaxKeys) + " keys (aliases repeating mappings?)");
    const YAML::Node& value = kv.second;
    if (value.IsMap()) {
      for (const auto& open : walk.open_maps)
        if (value.is(open))
          throw FileError(walk.file, line,
                          "key '" + key + "': a YAML alias refers to a mapping that contains it");
      if (walk.open_maps.size() >= kMaxDepth)
        throw FileError(walk.file, walk.top_line,
                        "key '" + key + "': mappings nested more than " +
                            std::to_string(kMaxDepth) + " deep");
      // A later map replaces an earlier scalar at the same key, key by key.
      entries_.erase(key);
      flatten_map(value, key, walk);
    } else {
      // Catches the same key written twice as "a.b:" and "a: {b:}" in one document.
      const auto [first_set, fresh_key] = walk.set_at.emplace(key, line);
      if (!fresh_key)
        throw FileError(walk.file, line,
                        "key '" + key + "' is set twice" + first_at(first_set->second));
      erase_below(key);
      entries_[key] = Entry{value, walk.file, line, walk.base_dir};
    }
  }
  walk.open_maps.pop_back();
}

void Source::erase_below(const std::string& key) {
  const std::string below = key + ".";
  auto it = entries_.lower_bound(below);
  while (it != entries_.end() && it->first.compare(0, below.size(), below) == 0)
    it = entries_.erase(it);
}

std::string Source::where(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return "";
  if (it->second.line > 0) return it->second.file + ":" + std::to_string(it->second.line);
  return it->second.file;
}

}  // namespace moe::config
