#pragma once
// `moe-train --plan`: what a recipe costs, from its numbers alone (no model is
// allocated, so the paper's 600B-parameter shapes plan in microseconds).
//
//   * parameters: total, dense (replicated on every device), experts, and by
//     component and block kind, counted tensor by tensor exactly as
//     Transformer::add_weights registers them;
//   * per device of the mesh: parameters, gradients, optimiser state (the
//     Adafactor factored state as lib/train/optimizer.cpp keeps it; Adam 2x),
//     activations cached for backward (model in docs/recipes.md), in float32;
//   * FLOPs per token (forward, training = 3x forward) after torchref's
//     train_flops(), generalised to heads*d_kv != d_model;
//   * the MoE exchange: groups per device, expert capacity C (expert_capacity()),
//     and the all-to-all message per rank, E*G_local*C*M floats (GSHARD.md §5.2).
//
// Batch model (what the trainer does): one micro-batch holds train.batch_tokens
// target tokens, split over every rank of the mesh (data x expert: GShard's
// 1-D mesh when data = 1); an update sums train.accum_steps micro-batches.
// Every sentence is taken to be data.max_len tokens long on both sides (an
// upper bound for the attention terms), so a device holds
// N = ceil(batch_tokens / (mesh.data * mesh.expert)) source and N target tokens.
//
// Ownership: Plan is a plain value; nothing here keeps references.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/recipe.h"

namespace moe::train {

// `--mesh data=D,expert=E` (either axis may be left out): replaces the
// recipe's mesh sizes; 0 keeps the recipe's value.
struct MeshOverride {
  int data = 0;
  int expert = 0;
};
// Parses "data=2,expert=4". Throws InputError quoting the text for unknown
// axes, bad sizes or syntax.
MeshOverride parse_mesh_override(std::string_view text);

// Parameters by component (whole model: all E experts of every MoE layer).
struct ParamBreakdown {
  std::int64_t embedding = 0;  // the one [V,M] matrix: source, target and output projection
  std::int64_t attention = 0;  // self- and cross-attention projections with their biases
  std::int64_t norm = 0;       // layer-norm scales (and biases for layer_norm)
  std::int64_t ffn = 0;        // dense FFN layers, weights and biases
  std::int64_t gate = 0;       // MoE gates wg [M,E]
  std::int64_t experts = 0;    // MoE wi [E,M,H] + wo [E,H,M]
  std::int64_t total() const { return embedding + attention + norm + ffn + gate + experts; }
  // Replicated on every device (everything but the experts).
  std::int64_t dense() const { return total() - experts; }
};

// One tensor of the model as add_weights() registers it, with its shape on a
// device of an expert axis of `expert_shards` ranks (experts: [E_local, ...]).
struct PlannedTensor {
  std::string name;            // "decoder.layer.1.moe.wi"
  std::vector<std::int64_t> shape;
  bool expert = false;         // sharded along the expert axis
  std::int64_t numel() const;
};
// Every tensor, in registration order. Throws InputError for an invalid
// config or experts not divisible by expert_shards.
std::vector<PlannedTensor> planned_tensors(const ModelConfig& model, int expert_shards = 1);
ParamBreakdown count_parameters(const ModelConfig& model);

// Optimiser state floats for `tensors` (one device's), exactly as
// make_optimizer() allocates it (expert tensors factored per expert).
std::int64_t optimizer_state_floats(const config::OptimizerConfig& optimizer,
                                    const std::vector<PlannedTensor>& tensors);

// Encoder/decoder blocks of one kind: "encoder dense", "decoder moe", ...
struct BlockKind {
  std::string name;
  int count = 0;
  std::int64_t params_each = 0;  // whole model (all experts)
};

// The figure the GShard paper (Table 1, §4.2) quotes for a model of this shape.
struct PaperReference {
  std::string model;   // "MoE(128E, 12L)"
  double params = 0;   // 12.5e9
};
// Known shapes: the six MoE models (M 1024, H 8192, 16 heads, E in
// {128,512,2048}, 12 or 36 layers) and the dense T(96L).
std::optional<PaperReference> paper_reference(const ModelConfig& model);

// Per-device bytes in float32.
struct DeviceMemory {
  std::int64_t params = 0;
  std::int64_t grads = 0;       // the weight table keeps one gradient per parameter
  std::int64_t optimizer = 0;
  std::int64_t activations = 0;  // the four terms below
  std::int64_t workspaces = 0;   // backward's, shared by all layers (one set of each kind)
  std::int64_t total() const { return params + grads + optimizer + activations + workspaces; }
  // Activation terms (see docs/recipes.md "activation model").
  std::int64_t encoder_blocks = 0;  // norms, residual streams, attention caches, dense FFN hidden
  std::int64_t decoder_blocks = 0;  // the same plus cross-attention (incl. its [N,2hd] keys|values)
  std::int64_t moe_buffers = 0;     // routing state, token-side/compute-side expert buffers
  std::int64_t embeddings_and_loss = 0;  // embedded inputs, final states, loss gradients [N,M] + [V,M]
};

struct Plan {
  config::Recipe recipe;        // with the mesh override applied
  int devices = 1;              // mesh.data * mesh.expert
  int moe_layers = 0;           // encoder + decoder
  ParamBreakdown params;
  std::vector<BlockKind> blocks;
  std::optional<PaperReference> paper;

  std::int64_t params_per_device = 0;           // replicated + local experts
  std::int64_t experts_per_device = 0;          // per MoE layer (E / mesh.expert)
  std::int64_t optimizer_floats_per_device = 0;

  // Batch.
  std::int64_t tokens_per_update = 0;   // batch_tokens * accum_steps
  std::int64_t tokens_per_device = 0;   // N: one micro-batch on one device (each side)
  std::int64_t seq_len = 0;             // L = data.max_len
  std::int64_t sentences_per_device = 0;

  // MoE exchange (zero for a dense model).
  std::int64_t group_size = 0;          // S
  std::int64_t groups_per_device = 0;   // G_local = ceil(N / S)
  std::int64_t capacity = 0;            // C per group per expert, training
  std::int64_t eval_capacity = 0;
  std::int64_t all_to_all_bytes = 0;    // per rank per all-to-all per MoE layer: E*G_local*C*M*4 (0 without an expert axis)
  std::int64_t all_to_all_bytes_per_micro_batch = 0;  // forward + backward: 4 exchanges x MoE layers

  // FLOPs (matmuls and attention; per target token with source length = target length).
  double forward_flops_per_token = 0;
  double train_flops_per_token = 0;     // 3 x forward
  double active_params_per_token = 0;   // weights one token is multiplied with
  double train_flops_per_device_step = 0;  // one micro-batch on one device
  // MoE models: the ffn_dim of a dense model with (up to the gates) the same
  // FLOPs per token, H * (1 + f * (top_k - 1)) for a fraction f of MoE FFNs.
  double dense_twin_ffn_dim = 0;

  DeviceMemory memory;
};

// Throws InputError when the override makes the mesh invalid (e.g. experts
// not divisible by the expert axis), naming --mesh, and when a count passes
// 2^63 (parameters, bytes per device), naming the keys behind it.
Plan make_plan(const config::Recipe& recipe, const MeshOverride& mesh = {});
// Throws InputError naming the model's keys when a device's parameters,
// gradients and optimizer state alone (allocated before the first step) need
// more than `available_bytes`. The activations are left out: their model is
// an upper bound (every sentence data.max_len long).
void check_fits_in_memory(const Plan& plan, std::int64_t available_bytes);
// A readable multi-line table.
std::string format_plan_table(const Plan& plan);
// The same numbers as JSON (exact integers; FLOPs as doubles).
std::string plan_json(const Plan& plan);

}  // namespace moe::train
