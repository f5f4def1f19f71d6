#include "config/recipe.h"

#include "config/dump.h"
#include "config/reader.h"
#include "config/source.h"
#include "util/error.h"

namespace moe::config {
namespace {

// Re-throws an error about `key` at the place the key was set.
[[noreturn]] void fail_at(const Source* source, const std::string& key, const std::string& what) {
  if (source) {
    const auto it = source->entries().find(key);
    if (it != source->entries().end())
      throw FileError(it->second.file, it->second.line, "key '" + key + "': " + what);
    // The key kept its default: point at the first key set in its section,
    // the values the rule weighed it against.
    const std::string section = key.substr(0, key.find('.') + 1);
    const Entry* first = nullptr;
    for (const auto& [k, e] : source->entries())
      if (k.rfind(section, 0) == 0 && (!first || e.line < first->line)) first = &e;
    if (first) throw FileError(first->file, first->line, "key '" + key + "': " + what);
  }
  throw InputError("key '" + key + "': " + what);
}

}  // namespace

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  Source source;
  source.add_file(path);
  for (const auto& o : overrides) source.add_override(o);
  return load_recipe(source);
}

Recipe load_recipe(const Source& source) {
  Recipe r;
  read_config(source, r);
  validate_recipe(r, &source);
  return r;
}

void validate_recipe(const Recipe& r, const Source* source) {
  try {
    r.model.validate();
  } catch (const InputError& e) {
    // ModelConfig::validate says "model.<key>: <what>"; point at that key.
    const std::string msg = e.what();
    const auto colon = msg.find(": ");
    if (colon == std::string::npos) throw;
    fail_at(source, msg.substr(0, colon), msg.substr(colon + 2));
  }
  const int experts = r.model.moe.num_experts;
  if (experts > 0 && experts % r.mesh.expert != 0)
    fail_at(source, "mesh.expert",
            "the expert axis has " + std::to_string(r.mesh.expert) + " ranks, which cannot split " +
                std::to_string(experts) + " experts evenly");
  if (experts == 0 && r.mesh.expert > 1)
    fail_at(source, "mesh.expert", "a dense model (model.moe.num_experts: 0) has no experts to shard");
  if (r.model.moe.top_k == 2 && experts == 1)
    fail_at(source, "model.moe.top_k", "top-2 routing needs at least 2 experts");
}

std::string recipe_to_yaml(const Recipe& recipe) {
  Recipe copy = recipe;
  return dump_config(copy);
}

}  // namespace moe::config
