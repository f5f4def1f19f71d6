#pragma once
// Saving and loading a set of named float tensors (model weights, or the
// optimiser state that is shaped like them) that may be sharded along the
// expert mesh axis, as plain safetensors files:
//
//   DIR/<prefix>.safetensors                    replicated tensors
//   DIR/<prefix>-experts-<r>-of-<n>.safetensors  expert shard r of n: the
//       global experts [r*E/n, (r+1)*E/n) of every expert tensor
//
// Loading reshards: a model saved with n expert shards loads into any number
// of shards m (E divisible by both), each rank reading only the experts it
// owns — train on 4 ranks, resume on 2, decode on 1.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/weights.h"
#include "tensor/tensor.h"

namespace moe::io {

struct ShardedTensor {
  std::string name;
  TensorView<float> local;   // this rank's part: expert tensors [E_local, ...]
  MeshAxis axis = MeshAxis::kReplicated;
  std::int64_t first_slice = 0;  // expert tensors: global index of local expert 0
  std::int64_t num_slices = 0;   // expert tensors: E, the global expert count
};

// Which files this rank writes: replicated ones on one rank of the mesh,
// each expert shard on one rank of its expert group.
struct ShardRole {
  int expert_shard = 0, expert_shards = 1;  // this rank's place on the expert axis
  bool write_replicated = true;             // one rank of the whole mesh
  bool write_experts = true;                // one rank per expert shard (data rank 0)
};

// The tensors of a weight table, as ShardedTensors over its parameters.
std::vector<ShardedTensor> weight_tensors(WeightTable<float>& table, std::int64_t experts);

// Writes this rank's files of the set (atomically each).
void save_tensor_set(const std::string& dir, const std::string& prefix,
                     const std::vector<ShardedTensor>& tensors, const ShardRole& role,
                     const std::map<std::string, std::string>& metadata);

// Fills every tensor's local view from the files in `dir`, whatever shard
// count they were written with. Throws FileError naming the file for a
// missing file or tensor, a shape that does not match, or a corrupt file.
// Returns the metadata of the replicated file.
std::map<std::string, std::string> load_tensor_set(const std::string& dir, const std::string& prefix,
                                                   const std::vector<ShardedTensor>& tensors);

}  // namespace moe::io
