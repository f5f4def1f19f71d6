#include "config/source.h"

#include <algorithm>
#include <filesystem>

#include "util/error.h"

namespace moe::config {
namespace fs = std::filesystem;

namespace {
long line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }
}  // namespace

void Source::add_file(const std::string& path) {
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
  // Not YAML::Clone + remove: a clone loses the line marks.
  for (const auto& kv : root) {
    if (kv.first.IsScalar() && kv.first.Scalar() == "include") continue;
    flatten_pair(kv.first, kv.second, "", path, dir);
  }
}

void Source::add_node(const YAML::Node& root, const std::string& origin,
                      const std::string& base_dir) {
  if (!root.IsMap()) throw FileError(origin, 0, "a recipe must be a YAML mapping");
  flatten(root, "", origin, base_dir);
}

void Source::add_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + assignment + ": expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::ParserException& e) {
    throw InputError("--set " + assignment + ": cannot parse the value: " + e.msg);
  }
  // Remove what the key replaces: a scalar set on a former map drops the map.
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->first.rfind(key + ".", 0) == 0 ? entries_.erase(it) : std::next(it);
  }
  if (value.IsMap()) {
    flatten(value, key, "--set", fs::current_path().string());
  } else {
    entries_[key] = Entry{value, "--set", 0, fs::current_path().string()};
  }
}

void Source::flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
                     const std::string& base_dir) {
  if (node.IsMap()) {
    for (const auto& kv : node) flatten_pair(kv.first, kv.second, prefix, file, base_dir);
  } else {
    entries_[prefix] = Entry{node, file, line_of(node), base_dir};
  }
}

void Source::flatten_pair(const YAML::Node& key_node, const YAML::Node& value,
                          const std::string& prefix, const std::string& file,
                          const std::string& base_dir) {
  if (!key_node.IsScalar()) throw FileError(file, line_of(key_node), "keys must be plain names");
  const std::string name = key_node.Scalar();
  const std::string key = prefix.empty() ? name : prefix + "." + name;
  if (value.IsMap()) {
    // A later map replaces an earlier scalar at the same key, key by key.
    entries_.erase(key);
    flatten(value, key, file, base_dir);
  } else {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->first.rfind(key + ".", 0) == 0 ? entries_.erase(it) : std::next(it);
    entries_[key] = Entry{value, file, line_of(key_node), base_dir};
  }
}

std::string Source::where(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return "";
  if (it->second.line > 0) return it->second.file + ":" + std::to_string(it->second.line);
  return it->second.file;
}

}  // namespace moe::config
