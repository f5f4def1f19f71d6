#pragma once
// The data-parallel gradient all-reduce of one Transformer over a mesh,
// started group by group while backward runs (GSHARD.md §5.2; lib/mesh's
// GradientSync does the bucketing and the non-blocking starts).
//
//   ModelGradientSync sync(mesh, model, options);      // once
//   per update: model.backward(w, sync.on_group_final());  // last micro-batch
//               sync.finish();                          // before clipping / the optimizer
//
// The weight table keeps gradients in two flat buffers (replicated, expert),
// so there are two GradientSyncs: replicated tensors summed over the world,
// expert tensors over Mesh::all_axes_but("expert"). Each tensor is one range,
// listed in the order backward() completes them
// (Transformer::backward_gradient_groups), so buckets fill and start in that
// order: the last decoder block's all-reduce runs while the earlier blocks'
// backward computes. The sums do not depend on when a bucket starts, so
// overlapping changes the result only by MPI's summation order, as any bucket
// size does (exactly nothing on 2 ranks: a + b is commutative).
//
// Borrowing: mesh and model must outlive this object; the weight table's
// buffers never move after allocation. One thread (the MpiRuntime's).
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "mesh/gradient_reduce.h"
#include "mesh/mesh.h"
#include "model/transformer.h"

namespace moe::train {

struct ModelGradientSyncOptions {
  GradientReduceOptions reduce;  // bucket size and scaling (the trainer sums: kSum)
  // false: nothing starts before finish() (the one-shot reduce, for comparison).
  bool overlap = true;
};

class ModelGradientSync {
 public:
  ModelGradientSync(Mesh& mesh, Transformer<float>& model, const ModelGradientSyncOptions& options = {});
  ~ModelGradientSync();
  ModelGradientSync(const ModelGradientSync&) = delete;
  ModelGradientSync& operator=(const ModelGradientSync&) = delete;

  // The callback to pass to Transformer::backward for the last backward of an
  // update (earlier micro-batches still add to the gradients: pass nothing);
  // empty when not overlapping. Valid while this object lives.
  std::function<void(std::size_t)> on_group_final();
  // Starts whatever is left, waits for every sum, scales, and resets for the
  // next update.
  void finish();
  // All-reduce calls one update makes (both buffers), for logs and benchmarks.
  std::size_t num_buckets() const;

 private:
  struct Slot {
    int buffer;          // 0 replicated, 1 expert
    std::size_t range;   // index into that GradientSync's ranges
  };
  bool overlap_;
  std::vector<std::vector<std::size_t>> entries_of_group_;  // [group] -> weight entries
  std::vector<Slot> slot_of_entry_;
  std::unique_ptr<GradientSync> sync_[2];
};

}  // namespace moe::train
