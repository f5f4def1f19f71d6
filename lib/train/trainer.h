#pragma once
// The training loop of `moe-train`: data pipeline -> forward/backward ->
// gradient all-reduce over the mesh -> clipping -> optimiser, with logging
// (progress line, metrics.jsonl), validation, checkpoints, exact resume,
// and a clean stop on SIGINT/SIGTERM (checkpoint, then exit 0).
//
// Exact resume: a step's randomness is Rng(seed, "step", step) and the data
// stream position is saved, so "train to N, stop, resume to M" reproduces
// the loss curve of an uninterrupted run to M bit for bit.
#include <cstdint>
#include <iosfwd>
#include <string>

#include "config/recipe.h"
#include "mesh/mesh.h"

namespace moe::train {

struct TrainerOptions {
  bool resume = true;        // continue from the run directory's latest checkpoint if any
  bool quiet = false;        // no progress output (metrics.jsonl is still written)
  std::string recipe_path;   // for messages
  // Time GEMMs and the MoE layers' routing and exchange (set_gemm_timing) for
  // the step-time breakdown in metrics.jsonl ("time_s"); the phase times
  // (data wait, forward, backward, optimiser, ...) are logged either way.
  bool profile = true;
};

struct TrainResult {
  std::int64_t steps = 0;       // optimizer steps done in total (including before a resume)
  double last_loss = 0;         // label-smoothed loss of the last logged window
  bool interrupted = false;     // stopped by a signal (a checkpoint was written)
  std::string last_checkpoint;  // directory
};

// Runs the recipe on `mesh` (one process: a 1x1 mesh). Rank 0 logs and
// writes the replicated files; each expert shard writes its experts.
// Throws InputError for bad data, vocabulary or checkpoint mismatches.
TrainResult train(const config::Recipe& recipe, Mesh& mesh, const TrainerOptions& options);

// Installs SIGINT/SIGTERM handlers that ask a running train() to stop at the
// next step boundary (a second signal kills the process as usual).
void install_stop_signal_handlers();

}  // namespace moe::train
