#pragma once
// Optimisers over the model's parameter tensors: Adafactor exactly as
// GSHARD.md §6.1 gives it, and Adam / AdamW. The learning rate comes from
// the schedule (schedule.h) each step; the optimiser applies it.
//
// Ownership: parameters and gradients are views into the weight table's flat
// buffers (owned there); the optimiser owns its state tensors and exposes
// them by name for checkpoints. State is shaped like its parameter, so an
// expert tensor's state is sharded with the expert.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/recipe.h"
#include "tensor/tensor.h"

namespace moe::train {

struct ParamRef {
  std::string name;
  TensorView<float> value;  // any shape; updated in place
  TensorView<float> grad;   // same shape; read only
  // Leading dimensions that index independent matrices (1 for expert weights
  // [E,M,H]: each expert's [M,H] is factored on its own). 0 otherwise.
  int batch_dims = 0;
};

struct NamedState {
  std::string name;  // "<param>.<slot>", e.g. "decoder.0.ffn.wi.adafactor_row"
  TensorView<float> tensor;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter with learning rate `lr` (already scheduled);
  // `step` counts updates from 0 and drives the decay/bias-correction terms.
  virtual void update(const std::vector<ParamRef>& params, double lr, std::int64_t step) = 0;
  // Every state tensor, in a fixed order, for saving and loading.
  virtual std::vector<NamedState> state() = 0;
};

// Builds the optimiser named by the recipe, with state for `params`.
std::unique_ptr<Optimizer> make_optimizer(const config::OptimizerConfig& cfg,
                                          const std::vector<ParamRef>& params);

// Sum of squares of every gradient (for global-norm clipping; the trainer
// all-reduces it across the mesh before taking the root).
double grad_squared_norm(const std::vector<ParamRef>& params);
// Multiplies every gradient by `factor`.
void scale_grads(const std::vector<ParamRef>& params, float factor);

}  // namespace moe::train
