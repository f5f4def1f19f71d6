#pragma once
// Run directories and checkpoints.
//
//   RUN/recipe.yaml                  the effective recipe (defaults filled)
//   RUN/vocab.model                  the SentencePiece model the run uses
//   RUN/metrics.jsonl, RUN/report.html
//   RUN/checkpoints/step-00001000/   one checkpoint, self-contained:
//       weights*.safetensors         model (expert tensors in expert shards)
//       optimizer*.safetensors       optimiser state, sharded like its parameters
//       trainer_state.json           step, data position, best metric, ...
//       index.json                   every tensor's global shape, shard axis and file(s)
//       vocab.model                  copy, so the directory alone can translate
//   RUN/checkpoints/latest, best     text files naming a step directory
//
// A checkpoint is written into a temporary directory and renamed into place
// only when every rank has finished, and `latest` is replaced atomically
// after that, so a crash never leaves a broken checkpoint as the latest.
// The weights' safetensors metadata carries the format version, the full
// recipe and the vocabulary's fingerprint.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/recipe.h"
#include "io/tensor_set.h"

namespace moe::io {

inline constexpr const char* kCheckpointFormat = "moe-nmt-checkpoint-1";

struct CheckpointWrite {
  std::string run_dir;
  std::int64_t step = 0;
  std::vector<ShardedTensor> weights;
  std::vector<ShardedTensor> optimizer;  // may be empty (e.g. an averaged model)
  std::string trainer_state_json;        // written by the writer of replicated files
  std::string recipe_yaml;
  std::string vocab_path;                // copied into the checkpoint
  std::string vocab_fingerprint;
  ShardRole role;
  std::function<void()> barrier;         // all ranks of the mesh; empty = one process
  int keep_last = 3;                     // older step directories are deleted (never `best`, `latest`)
};

// Writes one checkpoint and points `latest` at it; returns its directory.
std::string save_checkpoint(const CheckpointWrite& w);

// Removes what interrupted checkpoint writes and prunes left in
// RUN/checkpoints (".step-N.tmp" and ".step-N.deleting" directories, temporary
// pointer files), then deletes step directories beyond the newest `keep_last`
// (never the `latest` or `best` one). Only under the run's lock: another
// process's checkpoint in the making would be removed too.
void clean_checkpoints(const std::string& run_dir, int keep_last);

// Points RUN/checkpoints/best at `step_dir` (a directory name from save).
void mark_best(const std::string& run_dir, const std::string& step_dir);

// A run directory resolves to its `best` checkpoint (or `latest` when
// prefer_best is false or there is no best); a checkpoint directory to
// itself. Throws FileError when `path` is neither.
std::string resolve_checkpoint(const std::string& path, bool prefer_best);
// "step-00001230": the directory name of the checkpoint written after `step` updates.
std::string step_checkpoint_name(std::int64_t step);
// The latest checkpoint of a run directory, or "" when it has none: the one
// `latest` names, or without that pointer the newest step directory. Throws
// FileError when the pointer is damaged or names no directory, or when
// RUN/checkpoints is not a directory.
std::string latest_checkpoint(const std::string& run_dir);

struct CheckpointInfo {
  std::string dir;
  std::string recipe_yaml;
  config::Recipe recipe;
  std::string vocab_path;         // the copy inside the checkpoint
  std::string vocab_fingerprint;  // as recorded at save time
  std::string trainer_state_json;
};

// Reads what a checkpoint says about itself (not the tensors): format,
// recipe, vocabulary. Throws FileError for a missing or foreign directory.
CheckpointInfo read_checkpoint_info(const std::string& checkpoint_dir);

// Fills `tensors` from the checkpoint's files (resharding as needed).
void load_checkpoint_tensors(const std::string& checkpoint_dir, const std::string& prefix,
                             const std::vector<ShardedTensor>& tensors);

}  // namespace moe::io
