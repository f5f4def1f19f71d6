#pragma once
// Gradient all-reduce for data x expert parallel training (GSHARD.md §5.2).
//
// The trainer keeps all gradients in one flat float buffer; each parameter
// tensor is a range of it, tagged with the mesh axis the tensor is sharded
// along. Replicated tensors (attention, dense FFN, embeddings, LayerNorm, the
// gate) are summed over the whole world; a tensor sharded along "expert" is
// summed only over the ranks holding the same shard: Mesh::all_axes_but
// ("expert"), i.e. the data axis. Ranges bound for the same group are packed
// into buckets of at most `bucket_bytes`, so a model of many small tensors
// costs a few large all-reduces rather than hundreds of latency-bound ones.
//
// Scaling convention (kMeanOverWorld, the default): EVERY range is divided by
// the world size W, experts included. It assumes each rank's loss is the mean
// over its own tokens and the training loss is the mean of the W rank losses.
// Then a replicated gradient is (1/W) * sum over all W ranks. An expert's local
// gradient already sums the contributions of every rank of its expert group
// (the backward all-to-all brought them), so summing over the data axis covers
// all W ranks once, and it too needs 1/W, not 1/(data-axis size), which would
// leave it (expert-axis size) times too large (the bug of DeepSpeed #5618).
// fairseq's --moe-normalize-expert-grad world_size is the same rule.
// kSum leaves plain sums (for losses summed over tokens and divided later by
// the global token count).
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "mesh/mesh.h"
#include "util/collectives.h"

namespace moe {

// One parameter tensor's slice of the flat gradient buffer.
struct GradientRange {
  std::size_t offset = 0;     // first float, into the flat buffer
  std::size_t count = 0;      // floats
  std::string sharded_along;  // "" = replicated on every rank; else a mesh axis ("expert")
};

enum class GradientScaling { kMeanOverWorld, kSum };

struct GradientReduceOptions {
  std::size_t bucket_bytes = 25u << 20;  // per all-reduce; 25 MB as PyTorch DDP
  GradientScaling scaling = GradientScaling::kMeanOverWorld;
};

// A range bound to the group it is summed over (not owned); the form
// GradientSync works on, and what tests drive with fake Collectives.
struct GroupedGradientRange {
  std::size_t offset = 0;
  std::size_t count = 0;
  Collectives* group = nullptr;
};

// The gradient all-reduce of one training step, overlappable with backward:
//
//   GradientSync sync(mesh, grads, ranges);         // once: plans the buckets
//   per step: backward ...; sync.mark_ready(i) as each tensor's gradient is final
//             ...; sync.finish();                   // then the optimizer step
//
// Buckets: walking the ranges in the given order (give them in the order
// backward finishes them, last layer first), each range joins the open bucket
// of its group; a bucket that would exceed `bucket_bytes` is closed and a new
// one opened; a range of a bucket or more is split into buckets of its own.
// A bucket whose ranges touch end to end is reduced in place, others through a
// staging buffer. A bucket's all-reduce starts (non-blocking over MPI, blocking
// over other Collectives) as soon as all its ranges are ready and every earlier
// bucket has started, so all ranks start them in the same order whatever order
// they mark ranges in. Ranges whose group is a single rank cost nothing but the
// scaling. The step's result does not depend on mark order or bucket size
// beyond float summation order inside MPI.
//
// grads: [N], borrowed for the GradientSync's lifetime; ranges must lie inside
// it and not overlap (InternalError otherwise); floats outside every range are
// left alone. Between mark_ready(i) and finish() range i must not be written.
// Used by one thread (the MpiRuntime's). Not copyable.
class GradientSync {
 public:
  // Ranges resolved on `mesh`: replicated -> mesh.world(), sharded along A ->
  // mesh.all_axes_but(A). Throws InputError if a range names an axis the mesh
  // lacks. Every rank passes the same ranges in the same order.
  GradientSync(Mesh& mesh, std::span<float> grads, std::span<const GradientRange> ranges,
               const GradientReduceOptions& options = {});
  // Explicit groups, bucket size in floats, and the factor applied at finish().
  GradientSync(std::span<float> grads, std::span<const GroupedGradientRange> ranges,
               std::size_t bucket_floats, float scale);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Range `index` (position in the constructor's list) is final for this step.
  void mark_ready(std::size_t index);
  // Marks every range not yet marked, waits for all buckets, copies staged
  // buckets back, scales, and resets for the next step.
  void finish();

  std::size_t num_buckets() const;

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

// One-shot form for a trainer that does not overlap: every range summed over
// its group and scaled as `options` says. Collective over the world.
void all_reduce_gradients(Mesh& mesh, std::span<float> grads,
                          std::span<const GradientRange> ranges,
                          const GradientReduceOptions& options = {});

}  // namespace moe
