#include "io/tensor_set.h"

#include <cstring>
#include <filesystem>
#include <memory>

#include "io/safetensors.h"
#include "util/error.h"

namespace moe::io {
namespace fs = std::filesystem;

namespace {

std::vector<std::int64_t> dims(const Shape& s) {
  std::vector<std::int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}

std::string shard_file(const std::string& dir, const std::string& prefix, int r, int n) {
  return (fs::path(dir) / (prefix + "-experts-" + std::to_string(r) + "-of-" + std::to_string(n) +
                           ".safetensors"))
      .string();
}

// The shard count of the expert files present in `dir` (0 if none): the N of
// PREFIX-experts-0-of-N.safetensors. Other names (a backup copy, an editor's
// file) are not shards.
int find_expert_shards(const std::string& dir, const std::string& prefix) {
  const std::string head = prefix + "-experts-0-of-", tail = ".safetensors";
  constexpr long kMaxShards = 1 << 24;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
      continue;
    const std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long count = digits.size() > 8 ? -1 : std::stol(digits);
    if (count < 1 || count > kMaxShards)
      throw FileError(e.path().string(), 0, "not a shard count between 1 and " + std::to_string(kMaxShards));
    return static_cast<int>(count);
  }
  return 0;
}

}  // namespace

std::vector<ShardedTensor> weight_tensors(WeightTable<float>& table, std::int64_t experts) {
  std::vector<ShardedTensor> out;
  for (const WeightInfo& w : table.entries()) {
    ShardedTensor t;
    t.name = w.name;
    t.local = table.param(w.name);
    t.axis = w.axis;
    t.first_slice = w.first_slice;
    t.num_slices = w.axis == MeshAxis::kExpert ? experts : 0;
    out.push_back(t);
  }
  return out;
}

void save_tensor_set(const std::string& dir, const std::string& prefix,
                     const std::vector<ShardedTensor>& tensors, const ShardRole& role,
                     const std::map<std::string, std::string>& metadata) {
  fs::create_directories(dir);
  std::vector<TensorSource> replicated, experts;
  for (const auto& t : tensors) {
    TensorSource s{t.name, DType::kF32, dims(t.local.shape()), t.local.data()};
    (t.axis == MeshAxis::kExpert ? experts : replicated).push_back(std::move(s));
  }
  if (role.write_replicated)
    write_safetensors((fs::path(dir) / (prefix + ".safetensors")).string(), replicated, metadata);
  if (role.write_experts && !experts.empty()) {
    auto meta = metadata;
    meta["expert_shard"] = std::to_string(role.expert_shard);
    meta["expert_shards"] = std::to_string(role.expert_shards);
    write_safetensors(shard_file(dir, prefix, role.expert_shard, role.expert_shards), experts, meta);
  }
}

std::map<std::string, std::string> load_tensor_set(const std::string& dir, const std::string& prefix,
                                                   const std::vector<ShardedTensor>& tensors) {
  const SafetensorsFile main((fs::path(dir) / (prefix + ".safetensors")).string());
  bool any_expert = false;
  for (const auto& t : tensors) {
    if (t.axis == MeshAxis::kExpert) {
      any_expert = true;
      continue;
    }
    main.read_f32(t.name, dims(t.local.shape()), t.local.data());
  }
  if (!any_expert) return main.metadata();

  const int saved_shards = find_expert_shards(dir, prefix);
  if (saved_shards <= 0)
    throw FileError(shard_file(dir, prefix, 0, 1), 0, "expert weights are missing from the checkpoint");
  // Open each saved shard at most once, when first needed.
  std::vector<std::unique_ptr<SafetensorsFile>> shards(saved_shards);
  for (const auto& t : tensors) {
    if (t.axis != MeshAxis::kExpert) continue;
    const std::int64_t E = t.num_slices, local = t.local.shape()[0];
    if (E % saved_shards != 0)
      throw FileError(shard_file(dir, prefix, 0, saved_shards), 0,
                      "the model has " + std::to_string(E) + " experts, which " +
                          std::to_string(saved_shards) + " expert shards cannot split evenly");
    const std::int64_t per_shard = E / saved_shards;
    const std::int64_t slice = t.local.numel() / local;
    for (std::int64_t k = 0; k < local; ++k) {
      const std::int64_t global = t.first_slice + k;
      const int r = static_cast<int>(global / per_shard);
      if (!shards[r])
        shards[r] = std::make_unique<SafetensorsFile>(shard_file(dir, prefix, r, saved_shards));
      const SafetensorsFile& f = *shards[r];
      std::vector<std::int64_t> want = dims(t.local.shape());
      want[0] = per_shard;
      const TensorInfo& info = f.info(t.name);
      if (info.shape != want)
        throw FileError(f.path(), 0, "tensor '" + t.name + "' does not match the model's shape");
      if (info.dtype != DType::kF32)
        throw FileError(f.path(), 0,
                        "tensor '" + t.name + "' is " + dtype_name(info.dtype) + ", expert shards are F32");
      f.read_bytes(t.name, (global - r * per_shard) * slice * sizeof(float), slice * sizeof(float),
                   t.local.data() + k * slice);
    }
  }
  return main.metadata();
}

}  // namespace moe::io
