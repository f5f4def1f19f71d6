#pragma once
// The weight table: the one list of every parameter tensor of a model, with
// its name ("encoder.layer.0.attn.wqkv"), shape, initialiser and the mesh
// axis it is sharded along. Parameters and their gradients live in flat
// buffers, one per mesh axis (replicated / expert), so an optimiser step, a
// gradient all-reduce or a checkpoint write is one pass over one buffer.
// Save/load, the optimiser and the mesh read this table; nothing else
// hard-codes tensor names.
//
// Ownership: the table owns the buffers; param()/grad() return views that
// stay valid for the table's lifetime (the buffers never reallocate after
// allocate()). A table allocated for inference has no gradient buffers: the
// weights alone, half the memory.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace moe {

enum class Init {
  kZeros,
  kOnes,
  kUniform,  // U(-scale, +scale)
  kNormal,   // N(0, scale^2); zero_row (if >= 0) is then set to 0 (the pad embedding)
};

enum class MeshAxis {
  kReplicated,  // every rank holds the whole tensor; gradients are all-reduced
  kExpert,      // leading dim is this rank's E_local experts of the "expert" axis
};
std::string to_string(MeshAxis a);  // "replicated" / "expert"

struct WeightInfo {
  std::string name;
  Shape shape;               // local shape (expert tensors: [E_local, ...])
  Init init = Init::kZeros;
  double scale = 0;          // bound (uniform) or standard deviation (normal)
  MeshAxis axis = MeshAxis::kReplicated;
  std::int64_t first_slice = 0;  // expert tensors: global index of local expert 0
  std::int64_t zero_row = -1;    // kNormal: row set to zero after drawing (-1 = none)
  std::int64_t offset = 0;       // element offset in its axis's flat buffer (set by add())
};

// Whether allocate() creates gradient buffers beside the parameters.
enum class Gradients { kAllocate, kNone };

template <typename T>
class WeightTable {
 public:
  // Registers a tensor. Names must be unique; only before allocate().
  void add(WeightInfo info);
  // Creates the flat parameter buffers and, unless kNone, the gradient
  // buffers (zeros).
  void allocate(Gradients gradients = Gradients::kAllocate);
  bool allocated() const { return allocated_; }
  bool has_gradients() const { return has_gradients_; }

  // Draws every tensor from its initialiser. Tensor `name` draws from
  // Rng(seed, name, slice): expert tensors draw each expert from the stream of
  // its *global* index, so a sharded model starts from the same numbers as
  // the unsharded one, and adding a tensor never shifts another's values.
  void initialize(std::uint64_t seed);

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws InternalError for an unknown name (a bug: names come from the model).
  const WeightInfo& info(const std::string& name) const;
  TensorView<T> param(const std::string& name);
  TensorView<T> grad(const std::string& name);  // InternalError without gradients
  const std::vector<WeightInfo>& entries() const { return entries_; }

  // The flat buffers of one axis: [numel(axis)], tensors packed in
  // registration order without gaps (offset = sum of the earlier numels).
  TensorView<T> params(MeshAxis axis);
  TensorView<T> grads(MeshAxis axis);
  void zero_grads();
  std::int64_t numel(MeshAxis axis) const;
  std::int64_t numel() const { return numel(MeshAxis::kReplicated) + numel(MeshAxis::kExpert); }

 private:
  TensorView<T> view(Tensor<T>& flat, const WeightInfo& w);

  std::vector<WeightInfo> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  std::int64_t sizes_[2] = {0, 0};
  Tensor<T> params_[2], grads_[2];  // indexed by MeshAxis
  bool allocated_ = false;
  bool has_gradients_ = false;
};

}  // namespace moe
