#include "config/source.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "util/error.h"
#include "util/utf8.h"

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

// A recipe is text. yaml-cpp stops at a NUL with a message that quotes the
// raw byte and names a line after it, and takes other control bytes and
// invalid UTF-8 into values silently: refuse them first, at their line.
void check_is_text(const std::string& path, const std::string& text) {
  long line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      if (!utf8::is_valid(std::string_view(text).substr(line_start, i - line_start)))
        throw FileError(path, line, "invalid UTF-8: a recipe is UTF-8 text");
      ++line;
      line_start = i + 1;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      throw FileError(path, line, std::string(c == 0 ? "a NUL byte" : "control character ") +
                                      (c == 0 ? "" : hex) + ": a recipe is text");
    }
  }
}

// Records where each document of a YAML stream starts ("---" or its first key).
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<long> lines;  // 1-based
  void OnDocumentStart(const YAML::Mark& mark) override { lines.push_back(mark.line + 1); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The recipe file's one YAML document. A second one ("---" and more keys)
// would otherwise be dropped without a word.
YAML::Node load_recipe_text(const std::string& path, const std::string& text) {
  const std::vector<YAML::Node> documents = YAML::LoadAll(text);
  if (documents.size() <= 1) return documents.empty() ? YAML::Node() : documents.front();
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (parser.HandleNextDocument(starts)) {
  }
  const long line = starts.lines.size() > 1 ? starts.lines[1] : 0;
  throw FileError(path, line, "a second YAML document starts here: a recipe is one document");
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, "cannot read the file");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw FileError(path, 0, "cannot read the file");
  check_is_text(path, text);
  YAML::Node root;
  try {
    root = load_recipe_text(path, text);
  } catch (const YAML::DeepRecursion& e) {  // its message is a misleading "bad file"
    throw FileError(path, e.mark.line + 1, "YAML syntax error: nested too deeply");
  } catch (const YAML::ParserException& e) {
    throw FileError(path, e.mark.line + 1, "YAML syntax error: " + e.msg);
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
  std::vector<std::string> path;
  for (std::size_t begin = 0;;) {
    const auto dot = key.find('.', begin);
    path.push_back(key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (path.back().empty())
      throw InputError("--set " + assignment +
                       ": expected key.path=value (an empty name in the key)");
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::DeepRecursion&) {
    throw InputError("--set " + assignment + ": cannot parse the value: nested too deeply");
  } catch (const YAML::ParserException& e) {
    throw InputError("--set " + assignment + ": cannot parse the value: " + e.msg);
  }
  // Applied as the nested mapping a later include would hold ({model: {moe:
  // VALUE}}), by the same code, so both follow one rule: a mapping merges key by
  // key, a scalar or list replaces (a former mapping too), null resets.
  // Built innermost first into fresh nodes: assigning one YAML::Node to another
  // rebinds the node it referred to, which would make the mapping contain itself.
  std::vector<YAML::Node> levels{value};
  for (auto name = path.rbegin(); name != path.rend(); ++name) {
    YAML::Node mapping(YAML::NodeType::Map);
    mapping[*name] = levels.back();
    levels.push_back(mapping);
  }
  Walk walk("--set", fs::current_path().string());
  walk.has_lines = false;
  flatten_map(levels.back(), "", walk);
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
