#include "config/recipe.h"

#include <map>
#include <string>
#include <vector>

#include "config/dump.h"
#include "config/reader.h"
#include "config/source.h"
#include "moe/moe_config.h"
#include "util/error.h"

namespace moe::config {
namespace {

// The keys a rule weighs a key against. When the key at fault kept its
// default (or is derived, like the token ids), the error points at the first
// of these that the recipe sets instead of at a line that has nothing to do
// with it.
const std::vector<std::string>& related_keys(const std::string& key) {
  static const std::map<std::string, std::vector<std::string>> related = {
      {"model.d_kv", {"model.d_model", "model.heads"}},
      {"model.moe_offset", {"model.moe_every"}},
      {"model.pad_id/bos_id/eos_id", {"model.vocab"}},
      {"model.moe.top_k", {"model.moe.num_experts"}},
      {"model.moe.second_expert_threshold", {"model.moe.second_expert_policy"}},
      {"mesh.expert", {"model.moe.num_experts"}},
  };
  static const std::vector<std::string> none;
  const auto it = related.find(key);
  return it == related.end() ? none : it->second;
}

// Throws an error about `key` at the place the key was set, else at the
// place a related key was set, else naming the recipe without a line.
[[noreturn]] void fail_at(const Source* source, const std::string& key, const std::string& what) {
  if (!source) throw InputError("key '" + key + "': " + what);
  const auto& entries = source->entries();
  if (const auto it = entries.find(key); it != entries.end())
    throw FileError(it->second.file, it->second.line, "key '" + key + "': " + what);
  for (const auto& other : related_keys(key)) {
    if (const auto it = entries.find(other); it != entries.end())
      throw FileError(it->second.file, it->second.line,
                      "key '" + key + "' (default) conflicts with '" + other + "': " + what);
  }
  if (source->origin().empty()) throw InputError("key '" + key + "' (default): " + what);
  throw FileError(source->origin(), 0, "key '" + key + "' (default): " + what);
}

// Runs a check that throws InputError("<key>: <what>") (ModelConfig::validate,
// moe::validate) and re-throws its error at that key.
template <typename Check>
void check_at_key(const Source* source, Check check) {
  try {
    check();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    const auto colon = msg.find(": ");
    if (colon == std::string::npos) throw;
    fail_at(source, msg.substr(0, colon), msg.substr(colon + 2));
  }
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
  check_at_key(source, [&] { r.model.validate(); });
  const int experts = r.model.moe.num_experts;
  // The MoE layers check these again when built, too late to say where they were set.
  if (experts > 0) check_at_key(source, [&] { moe::validate(r.model.moe, "model.moe."); });
  if (experts > 0 && experts % r.mesh.expert != 0)
    fail_at(source, "mesh.expert",
            "the expert axis has " + std::to_string(r.mesh.expert) + " ranks, which cannot split " +
                std::to_string(experts) + " experts evenly");
  if (experts == 0 && r.mesh.expert > 1)
    fail_at(source, "mesh.expert", "a dense model (model.moe.num_experts: 0) has no experts to shard");
  // A language listed twice would be loaded, and sampled, twice.
  for (std::size_t i = 0; i < r.data.langs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (r.data.langs[i] == r.data.langs[j])
        fail_at(source, "data.langs", "'" + r.data.langs[i] + "' is listed twice");
  // The dev decoding's beam search needs that many distinct tokens; found only
  // at the first validation, the error would cost the steps trained before it.
  if (r.eval.beam_size > r.model.vocab)
    fail_at(source, "eval.beam_size",
            "must be at most model.vocab (" + std::to_string(r.model.vocab) + "), got " +
                std::to_string(r.eval.beam_size));
  if (r.vocab.model_type != "unigram" && r.vocab.model_type != "bpe")
    fail_at(source, "vocab.model_type",
            "expected unigram or bpe, got '" + r.vocab.model_type + "'");
}

std::string recipe_to_yaml(const Recipe& recipe) {
  Recipe copy = recipe;
  return std::string(kRecipeDumpHeader) + "\n" + dump_config(copy);
}

}  // namespace moe::config
