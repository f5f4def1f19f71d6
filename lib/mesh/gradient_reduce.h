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

// grads: [N] flat gradient buffer, reduced in place. Ranges must lie inside it
// and not overlap (InternalError otherwise); floats outside every range are
// left alone. Collective over the world: every rank passes the same ranges in
// the same order. Throws InputError if a range names an axis the mesh lacks.
void all_reduce_gradients(Mesh& mesh, std::span<float> grads,
                          std::span<const GradientRange> ranges,
                          const GradientReduceOptions& options = {});

// The mechanism under all_reduce_gradients, for any Collectives (the tests
// drive it with fakes): each range is summed over its `group`, in buckets of
// at most `bucket_floats`, then multiplied by `scale`. Groups are served in the
// order of their first range; within a group ranges go by offset, adjacent
// ones merged, small ones packed into a staging bucket, large ones reduced in
// place bucket by bucket.
struct GroupedGradientRange {
  std::size_t offset = 0;
  std::size_t count = 0;
  Collectives* group = nullptr;  // not owned
};
void reduce_gradient_buckets(std::span<float> grads, std::span<const GroupedGradientRange> ranges,
                             std::size_t bucket_floats, float scale);

}  // namespace moe
