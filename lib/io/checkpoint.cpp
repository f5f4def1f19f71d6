#include "io/checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/source.h"
#include "io/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace moe::io {
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, "cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// index.json: which file holds what, for people and tools reading a
// checkpoint without this library (the loader itself finds shards by name).
std::string index_json(const CheckpointWrite& w, const fs::path& dir) {
  nlohmann::ordered_json index = {{"format", kCheckpointFormat},
                                  {"step", w.step},
                                  {"expert_shards", w.role.expert_shards}};
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  index["files"] = files;
  for (const auto* set : {&w.weights, &w.optimizer}) {
    const std::string prefix = set == &w.weights ? "weights" : "optimizer";
    for (const ShardedTensor& t : *set) {
      std::vector<std::int64_t> shape;
      for (int d = 0; d < t.local.shape().rank(); ++d) shape.push_back(t.local.shape()[d]);
      const bool expert = t.axis == MeshAxis::kExpert;
      if (expert) shape[0] = t.num_slices;  // global: every expert
      index["tensors"][t.name] = {
          {"shape", shape},
          {"sharded_along", expert ? "expert" : "replicated"},
          {"files", expert ? prefix + "-experts-*-of-" + std::to_string(w.role.expert_shards) + ".safetensors"
                           : prefix + ".safetensors"}};
    }
  }
  return index.dump(1) + "\n";
}

// The name that a `latest` or `best` pointer file holds: a plain directory
// name. Anything else (a path, control bytes of a damaged file) is refused
// with the bytes escaped, so the message stays one printable line.
std::string read_pointer(const fs::path& pointer) {
  const std::string name = trim(read_text(pointer.string()));
  const bool plain = !name.empty() && name != "." && name != ".." &&
                     std::all_of(name.begin(), name.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                     });
  if (plain) return name;
  std::string shown;
  for (unsigned char c : name.substr(0, 40)) {
    if (std::isprint(c) && c != '\\') {
      shown += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      shown += hex;
    }
  }
  throw FileError(pointer.string(), 1, "does not name a checkpoint directory: '" + shown +
                                           (name.size() > 40 ? "...'" : "'"));
}

// The directory a `latest` or `best` pointer names, or "" when it is missing
// or damaged (a damaged `latest` stops pruning; resuming reports it).
std::string pointer_target(const fs::path& pointer) {
  std::error_code ec;
  if (!fs::exists(pointer, ec)) return "";
  try {
    return read_pointer(pointer);
  } catch (const FileError&) {
    return "";
  }
}

// Deletes a step directory by renaming it out of the way first: a kill during
// the deletion then leaves a ".step-N.deleting" directory for the next start to
// remove, never a half-deleted one that still looks like a checkpoint.
void remove_step_dir(const fs::path& checkpoints, const std::string& name) {
  const fs::path doomed = checkpoints / ("." + name + ".deleting");
  std::error_code ec;
  fs::remove_all(doomed, ec);
  fs::rename(checkpoints / name, doomed, ec);
  if (!ec) fs::remove_all(doomed, ec);
}

// The step-N directories of `checkpoints` (N digits only), oldest first.
std::vector<std::string> step_directories(const fs::path& checkpoints) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(checkpoints, ec)) return {};
  for (const auto& e : fs::directory_iterator(checkpoints)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.size() <= 5 || n.size() > 5 + 18 || n.rfind("step-", 0) != 0 ||
        n.find_first_not_of("0123456789", 5) != std::string::npos)
      continue;
    found.emplace_back(std::stoll(n.substr(5)), n);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(std::move(f.second));
  return names;
}

void prune(const fs::path& checkpoints, int keep_last) {
  std::error_code ec;
  if (!fs::is_directory(checkpoints, ec)) return;
  const std::string best = pointer_target(checkpoints / "best");
  const std::string latest = pointer_target(checkpoints / "latest");
  if (latest.empty() && fs::exists(checkpoints / "latest", ec)) return;  // damaged: touch nothing
  const std::vector<std::string> steps = step_directories(checkpoints);
  const std::size_t keep = static_cast<std::size_t>(std::max(1, keep_last));
  for (std::size_t i = 0; i + keep < steps.size(); ++i) {
    if (steps[i] == best || steps[i] == latest) continue;
    remove_step_dir(checkpoints, steps[i]);
  }
}

}  // namespace

std::string step_checkpoint_name(std::int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

std::string save_checkpoint(const CheckpointWrite& w) {
  const fs::path checkpoints = fs::path(w.run_dir) / "checkpoints";
  const std::string name = step_checkpoint_name(w.step);
  const fs::path tmp = checkpoints / ("." + name + ".tmp");
  const fs::path final_dir = checkpoints / name;
  const bool leader = w.role.write_replicated;
  if (leader) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp);
  }
  if (w.barrier) w.barrier();  // the directory exists before anyone writes into it

  std::map<std::string, std::string> meta = {{"format", kCheckpointFormat},
                                             {"step", std::to_string(w.step)},
                                             {"recipe", w.recipe_yaml},
                                             {"vocab_fingerprint", w.vocab_fingerprint}};
  save_tensor_set(tmp.string(), "weights", w.weights, w.role, meta);
  if (!w.optimizer.empty())
    save_tensor_set(tmp.string(), "optimizer", w.optimizer, w.role, {{"format", kCheckpointFormat}});
  if (leader) {
    write_file_atomically((tmp / "trainer_state.json").string(), w.trainer_state_json);
    if (!w.vocab_path.empty()) copy_file_atomically(w.vocab_path, (tmp / "vocab.model").string());
  }
  if (w.barrier) w.barrier();  // every shard is on disk

  if (leader) {
    write_file_atomically((tmp / "index.json").string(), index_json(w, tmp));
    std::error_code ec;
    // A checkpoint of the same step, from an interrupted run.
    if (fs::exists(final_dir, ec)) remove_step_dir(checkpoints, name);
    fs::rename(tmp, final_dir, ec);
    if (ec) throw FileError(final_dir.string(), 0, "cannot move the checkpoint into place: " + ec.message());
    write_file_atomically((checkpoints / "latest").string(), name + "\n");
    prune(checkpoints, w.keep_last);
  }
  if (w.barrier) w.barrier();
  return final_dir.string();
}

void clean_checkpoints(const std::string& run_dir, int keep_last) {
  const fs::path checkpoints = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(checkpoints, ec)) return;
  remove_atomic_write_temporaries(checkpoints.string());  // of `latest` and `best`
  std::vector<fs::path> leftovers;
  for (fs::directory_iterator entry(checkpoints, ec), end; !ec && entry != end; entry.increment(ec)) {
    const std::string n = entry->path().filename().string();
    const auto ends_with = [&n](const std::string& suffix) {
      return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    std::error_code type_ec;
    if (n.rfind(".step-", 0) == 0 && (ends_with(".tmp") || ends_with(".deleting")) &&
        entry->is_directory(type_ec))
      leftovers.push_back(entry->path());
  }
  for (const fs::path& dir : leftovers) fs::remove_all(dir, ec);
  prune(checkpoints, keep_last);
}

void mark_best(const std::string& run_dir, const std::string& step_dir) {
  write_file_atomically((fs::path(run_dir) / "checkpoints" / "best").string(),
                        fs::path(step_dir).filename().string() + "\n");
}

std::string latest_checkpoint(const std::string& run_dir) {
  const fs::path checkpoints = fs::path(run_dir) / "checkpoints";
  const fs::path pointer = checkpoints / "latest";
  std::error_code ec;
  if (fs::exists(checkpoints, ec) && !fs::is_directory(checkpoints, ec))
    throw FileError(checkpoints.string(), 0, "not a directory (the run's checkpoints go there)");
  if (!fs::exists(pointer, ec)) {
    // A step directory appears by an atomic rename before `latest` is written
    // to name it, so one without the pointer (a kill between the two, a
    // deleted pointer) is complete: resume from the newest, never from scratch.
    const std::vector<std::string> steps = step_directories(checkpoints);
    return steps.empty() ? "" : (checkpoints / steps.back()).string();
  }
  const fs::path dir = fs::path(run_dir) / "checkpoints" / read_pointer(pointer);
  if (!fs::is_directory(dir))
    throw FileError(pointer.string(), 1, "names a checkpoint that does not exist: " + dir.string());
  return dir.string();
}

std::string resolve_checkpoint(const std::string& path, bool prefer_best) {
  if (fs::exists(fs::path(path) / "weights.safetensors")) return path;
  const fs::path checkpoints = fs::path(path) / "checkpoints";
  if (!fs::is_directory(checkpoints)) {
    // train.lock is a run's first file: a run stopped before its first checkpoint.
    if (fs::exists(fs::path(path) / "train.lock")) throw FileError(path, 0, "the run directory has no checkpoint yet");
    throw FileError(path, 0, "neither a run directory nor a checkpoint directory");
  }
  if (prefer_best && fs::exists(checkpoints / "best")) {
    const fs::path dir = checkpoints / read_pointer(checkpoints / "best");
    if (fs::is_directory(dir)) return dir.string();
  }
  const std::string latest = latest_checkpoint(path);
  if (latest.empty()) throw FileError(path, 0, "the run directory has no checkpoint yet");
  return latest;
}

CheckpointInfo read_checkpoint_info(const std::string& checkpoint_dir) {
  CheckpointInfo info;
  info.dir = checkpoint_dir;
  const SafetensorsFile weights((fs::path(checkpoint_dir) / "weights.safetensors").string());
  const auto& meta = weights.metadata();
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kCheckpointFormat)
    throw FileError(weights.path(), 0,
                    "not a moe-nmt checkpoint (format '" +
                        (format == meta.end() ? std::string("none") : format->second) + "', expected '" +
                        kCheckpointFormat + "')");
  info.recipe_yaml = meta.count("recipe") ? meta.at("recipe") : "";
  info.vocab_fingerprint = meta.count("vocab_fingerprint") ? meta.at("vocab_fingerprint") : "";
  config::Source source;
  try {
    source.add_node(YAML::Load(info.recipe_yaml), weights.path() + " (stored recipe)", checkpoint_dir);
  } catch (const YAML::Exception& e) {
    throw FileError(weights.path(), 0, std::string("the stored recipe is not valid YAML: ") + e.what());
  }
  info.recipe = config::load_recipe(source);
  info.vocab_path = (fs::path(checkpoint_dir) / "vocab.model").string();
  const fs::path state = fs::path(checkpoint_dir) / "trainer_state.json";
  if (fs::exists(state)) info.trainer_state_json = read_text(state.string());
  return info;
}

void load_checkpoint_tensors(const std::string& checkpoint_dir, const std::string& prefix,
                             const std::vector<ShardedTensor>& tensors) {
  load_tensor_set(checkpoint_dir, prefix, tensors);
}

}  // namespace moe::io
