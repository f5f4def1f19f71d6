#include "train/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mesh/mesh_spec.h"
#include "moe/moe_layer.h"
#include "util/error.h"

namespace moe::train {
namespace {

using Json = nlohmann::ordered_json;

// The keys' ranges allow shapes whose counts pass 2^63 (a million experts of
// 65536 x 1M in 128 layers take 2^65 bytes): such counts are refused, never wrapped into
// negative parameters or bytes. Count's + and * throw this; make_plan() and
// count_parameters() rethrow it naming the keys behind the count.
struct CountOverflow : InputError {
  CountOverflow() : InputError("the recipe's shapes make a count larger than 2^63") {}
};

// A non-negative int64 count whose arithmetic checks for overflow.
class Count {
 public:
  Count(std::int64_t v = 0) : v_(v) {}  // implicit: formulas mix counts and plain integers
  std::int64_t get() const { return v_; }
  friend Count operator+(Count a, Count b) {
    std::int64_t r;
    if (__builtin_add_overflow(a.v_, b.v_, &r)) throw CountOverflow{};
    return r;
  }
  friend Count operator*(Count a, Count b) {
    std::int64_t r;
    if (__builtin_mul_overflow(a.v_, b.v_, &r)) throw CountOverflow{};
    return r;
  }
  Count& operator+=(Count b) { return *this = *this + b; }

 private:
  std::int64_t v_;
};

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::string layer_name(bool decoder, int i) {
  return std::string(decoder ? "decoder" : "encoder") + ".layer." + std::to_string(i);
}

// The component a tensor belongs to, from its name (the names are
// add_weights()'s, mirrored by planned_tensors()).
enum class Component { kEmbedding, kAttention, kNorm, kFfn, kGate, kExperts };

Component component_of(const std::string& name) {
  auto has = [&name](const char* part) { return name.find(part) != std::string::npos; };
  if (name == "embed") return Component::kEmbedding;
  if (has(".moe.wg")) return Component::kGate;
  if (has(".moe.")) return Component::kExperts;
  if (has(".ffn.")) return Component::kFfn;
  if (has(".attn.") || has(".cross.")) return Component::kAttention;
  return Component::kNorm;
}

void add_to(ParamBreakdown& b, const PlannedTensor& t) {
  const Count n = t.numel();
  auto add = [&n](std::int64_t& sum) { sum = (sum + n).get(); };
  switch (component_of(t.name)) {
    case Component::kEmbedding: add(b.embedding); break;
    case Component::kAttention: add(b.attention); break;
    case Component::kNorm: add(b.norm); break;
    case Component::kFfn: add(b.ffn); break;
    case Component::kGate: add(b.gate); break;
    case Component::kExperts: add(b.experts); break;
  }
  // total() sums the components unchecked: it must fit too.
  (Count(b.embedding) + b.attention + b.norm + b.ffn + b.gate + b.experts).get();
}

// The keys that multiply into the parameter count, for errors.
std::string model_keys(const ModelConfig& m) {
  return "model.vocab " + std::to_string(m.vocab) + ", model.d_model " + std::to_string(m.d_model) +
         ", model.ffn_dim " + std::to_string(m.ffn_dim) + ", model.moe.num_experts " +
         std::to_string(m.moe.num_experts) + ", model.enc_layers " + std::to_string(m.enc_layers) +
         ", model.dec_layers " + std::to_string(m.dec_layers);
}

[[noreturn]] void model_too_large(const ModelConfig& m) {
  throw InputError("the model is too large to count: more than 2^63 parameters or bytes of them (" +
                   model_keys(m) + ")");
}

// Forward matmul FLOPs of one token's FFN sub-layer (2 per multiply-add).
double ffn_flops(const ModelConfig& m, bool moe) {
  const double M = m.d_model, H = m.ffn_dim;
  if (!moe) return 2 * (2 * M * H);
  return 2 * (m.moe.top_k * 2 * M * H + M * m.moe.num_experts);
}

// Bytes of routing state per token in the MoE cache: its route and the
// token-side rows of its two choices.
constexpr std::int64_t kRouteBytes = sizeof(TokenRoute<float>) + 2 * sizeof(std::int64_t);

DeviceMemory activation_model(const Plan& p) {
  const ModelConfig& m = p.recipe.model;
  const Count N = p.tokens_per_device, L = p.seq_len, M = m.d_model, H = m.ffn_dim;
  const Count h = m.heads, hd = Count(m.heads) * m.kv_dim(), V = m.vocab, E = m.moe.num_experts;
  const bool drop = m.dropout > 0, attn_drop = m.attention_dropout > 0;
  // Per-token bytes. A norm keeps its output, the normalised input and 1/rms;
  // a dropout keeps a one-byte mask; attention keeps q|k|v, the probabilities
  // [h,L] per query (and their dropped copy plus mask) and the context.
  const Count norm = 4 * (2 * M + 1);
  const Count mask = drop ? M : 0;
  auto attention = [&](Count proj) {
    Count b = 4 * (proj + hd + h * L);
    if (attn_drop) b += 4 * h * L + h * L;
    return b;
  };
  const Count dense_ffn = 4 * H + (drop ? H : 0);
  // The expert buffers' rows: E*G*C token-side (E_local*R compute-side).
  const Count rows = E * p.groups_per_device * p.capacity;
  Count encoder_blocks, decoder_blocks, moe_buffers;
  bool any_dense = false;
  for (int stack = 0; stack < 2; ++stack) {
    const bool decoder = stack == 1;
    const int layers = decoder ? m.dec_layers : m.enc_layers;
    for (int i = 0; i < layers; ++i) {
      Count per_token = 2 * norm + 4 * 2 * M + attention(3 * hd) + 2 * mask;
      if (decoder) per_token += norm + 4 * M + attention(hd) + 4 * 2 * hd + mask;
      if (!m.is_moe_layer(i)) {
        per_token += dense_ffn;
        any_dense = true;
      }
      (decoder ? decoder_blocks : encoder_blocks) += per_token * N;
      if (m.is_moe_layer(i)) {
        // x copy, gate probabilities, routes; token-side rows E*G*C of [M]
        // (dispatched, expert output) and [H] (hidden); with an expert axis
        // three more [M] buffers (received inputs, returned outputs, landing).
        const Count row_buffers = p.recipe.mesh.expert > 1 ? 5 : 2;
        moe_buffers += N * (4 * M + 4 * E + kRouteBytes) + 4 * rows * (row_buffers * M + H);
      }
    }
  }
  // Embedded source and target (+ masks), final norms, encoder memory and
  // decoder output, and the loss's gradients d h [N,M] and d emb [V,M].
  const Count embeddings_and_loss =
      N * (2 * (4 * M + mask) + 2 * norm + 2 * 4 * M + 4 * M) + 4 * V * M;

  // Backward workspaces, one set of each kind shared by every layer and
  // sized by its largest user: attention's d_context [N,hd], d_probs
  // [B,h,L,L], d_proj [N,3hd] and d_memory_kv [N,2hd]; the dense FFNs' hidden
  // gradient [N,H]; the MoE layers' token-side gradient [E*G*C,M] and hidden
  // gradient [E*G*C,H] (E_local*R = E*G*C rows on the compute side), gate
  // logits' gradient [N,E] and, with an expert axis, the compute-side
  // gradient and the all_to_all landing buffer [E*G*C,M]; the residual
  // stream's d_stream, d_branch and d_memory [N,M].
  const Count B = p.sentences_per_device;
  Count workspaces = 4 * (N * hd + B * h * L * L + N * 3 * hd + N * 2 * hd) + 3 * 4 * N * M;
  if (any_dense) workspaces += 4 * N * H;
  if (p.moe_layers > 0) {
    const Count row_buffers = p.recipe.mesh.expert > 1 ? 3 : 1;
    workspaces += 4 * rows * (row_buffers * M + H) + 4 * N * (E + 2);
  }
  DeviceMemory mem;
  mem.encoder_blocks = encoder_blocks.get();
  mem.decoder_blocks = decoder_blocks.get();
  mem.moe_buffers = moe_buffers.get();
  mem.embeddings_and_loss = embeddings_and_loss.get();
  mem.activations = (encoder_blocks + decoder_blocks + moe_buffers + embeddings_and_loss).get();
  mem.workspaces = workspaces.get();
  return mem;
}

void compute_flops(Plan& p) {
  const ModelConfig& m = p.recipe.model;
  const double M = m.d_model, hd = static_cast<double>(m.heads * m.kv_dim()), V = m.vocab;
  const double L = static_cast<double>(p.seq_len);
  // Weights applied per token (source and target tokens counted as one
  // position): self-attention q,k,v,o = 4*M*hd; the decoder's cross-attention
  // adds q,o on the target and k,v on the source = 4*M*hd; output V*M.
  double matmul = 0;
  for (int i = 0; i < m.enc_layers; ++i) matmul += 2 * 4 * M * hd + ffn_flops(m, m.is_moe_layer(i));
  for (int i = 0; i < m.dec_layers; ++i) matmul += 2 * 8 * M * hd + ffn_flops(m, m.is_moe_layer(i));
  matmul += 2 * V * M;
  // Scores and context: 2 matmuls of L x hd per query per attention block.
  const double attention = 4 * L * hd * (m.enc_layers + 2.0 * m.dec_layers);
  p.forward_flops_per_token = matmul + attention;
  p.train_flops_per_token = 3 * p.forward_flops_per_token;
  p.active_params_per_token = matmul / 2;  // one multiply-add per weight
  p.train_flops_per_device_step = p.train_flops_per_token * static_cast<double>(p.tokens_per_device);
  if (p.moe_layers > 0) {
    const double moe_fraction = static_cast<double>(p.moe_layers) / (m.enc_layers + m.dec_layers);
    p.dense_twin_ffn_dim = m.ffn_dim * (1 + moe_fraction * (m.moe.top_k - 1));
  }
}

// ---- formatting ----

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// 12.5B, 37.0M, 4.2k: three significant digits.
std::string count_str(double x) {
  const char* units[] = {"", "k", "M", "B", "T"};
  int u = 0;
  while (std::abs(x) >= 1000 && u < 4) x /= 1000, ++u;
  if (u == 0) return fixed(x, 0);
  return fixed(x, std::abs(x) < 10 ? 2 : std::abs(x) < 100 ? 1 : 0) + units[u];
}

std::string bytes_str(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (b >= 1024 && u < 6) b /= 1024, ++u;
  return fixed(b, u == 0 ? 0 : 2) + " " + units[u];
}

std::string flops_str(double f) {
  const char* units[] = {"", "k", "M", "G", "T", "P"};
  int u = 0;
  while (f >= 1000 && u < 5) f /= 1000, ++u;
  return fixed(f, 2) + " " + units[u] + "FLOP";
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

}  // namespace

MeshOverride parse_mesh_override(std::string_view text) {
  const MeshSpec spec = parse_mesh_spec(text);
  MeshOverride o;
  for (const auto& [name, size] : spec.axes) {
    if (name == "data") {
      o.data = size;
    } else if (name == "expert") {
      o.expert = size;
    } else {
      throw InputError("--mesh '" + std::string(text) + "': unknown axis '" + name +
                       "' (moe-train has the axes data and expert)");
    }
  }
  return o;
}

std::int64_t PlannedTensor::numel() const {
  Count n = 1;
  for (std::int64_t d : shape) n = n * d;
  return n.get();
}

std::vector<PlannedTensor> planned_tensors(const ModelConfig& m, int expert_shards) {
  m.validate();
  const std::int64_t E = m.moe.num_experts;
  if (E > 0 && (expert_shards < 1 || E % expert_shards != 0))
    throw InputError("model.moe.num_experts: " + std::to_string(E) + " experts cannot be split over " +
                     std::to_string(expert_shards) + " ranks of the expert axis");
  const std::int64_t M = m.d_model, H = m.ffn_dim, hd = m.heads * m.kv_dim();
  const bool bias = m.norm == NormType::kLayerNorm;
  std::vector<PlannedTensor> out;
  auto dense = [&](const std::string& name, std::int64_t in, std::int64_t o) {
    out.push_back({name + ".w", {in, o}, false});
    out.push_back({name + ".b", {o}, false});
  };
  auto norm = [&](const std::string& name) {
    out.push_back({name + ".scale", {M}, false});
    if (bias) out.push_back({name + ".bias", {M}, false});
  };
  out.push_back({"embed", {m.vocab, M}, false});
  for (int stack = 0; stack < 2; ++stack) {
    const bool decoder = stack == 1;
    for (int i = 0; i < (decoder ? m.dec_layers : m.enc_layers); ++i) {
      const std::string p = layer_name(decoder, i);
      norm(p + ".ln1");
      dense(p + ".attn.qkv", M, 3 * hd);
      dense(p + ".attn.out", hd, M);
      if (decoder) {
        norm(p + ".lnc");
        dense(p + ".cross.q", M, hd);
        dense(p + ".cross.kv", M, 2 * hd);
        dense(p + ".cross.out", hd, M);
      }
      norm(p + ".ln2");
      if (m.is_moe_layer(i)) {
        const std::int64_t local = E / expert_shards;
        out.push_back({p + ".moe.wg", {M, E}, false});
        out.push_back({p + ".moe.wi", {local, M, H}, true});
        out.push_back({p + ".moe.wo", {local, H, M}, true});
      } else {
        dense(p + ".ffn.in", M, H);
        dense(p + ".ffn.out", H, M);
      }
    }
  }
  norm("encoder.ln");
  norm("decoder.ln");
  return out;
}

ParamBreakdown count_parameters(const ModelConfig& model) {
  ParamBreakdown b;
  try {
    for (const PlannedTensor& t : planned_tensors(model)) add_to(b, t);
  } catch (const CountOverflow&) {
    model_too_large(model);
  }
  return b;
}

std::int64_t optimizer_state_floats(const config::OptimizerConfig& opt,
                                    const std::vector<PlannedTensor>& tensors) {
  Count total = 0;
  for (const PlannedTensor& t : tensors) {
    const std::int64_t n = t.numel();
    if (opt.name != config::OptimizerKind::kAdafactor) {
      total += 2 * Count(n);  // Adam's m and v
      continue;
    }
    // optimizer.cpp's layout: the expert dim is a batch of matrices; the last
    // dim is the columns, everything else the rows; vectors are one row.
    const std::int64_t batch = t.expert ? t.shape.front() : 1;
    const std::size_t inner = t.shape.size() - (t.expert ? 1 : 0);
    std::int64_t rows = 1, cols = inner == 0 ? 1 : t.shape.back();
    if (inner >= 2) rows = n / (batch * cols);
    const bool factored = rows > 1 && std::min(rows, cols) >= opt.min_dim_size_to_factor;
    total += factored ? Count(batch) * (Count(rows) + cols) : Count(n);
    if (opt.beta1 > 0) total += n;  // momentum
  }
  return total.get();
}

std::optional<PaperReference> paper_reference(const ModelConfig& m) {
  if (m.d_model != 1024 || m.ffn_dim != 8192 || m.heads != 16 || m.enc_layers != m.dec_layers)
    return std::nullopt;
  const int layers = m.enc_layers + m.dec_layers;
  const int E = m.moe.num_experts > 0 && m.moe_every > 0 ? m.moe.num_experts : 0;
  struct Row {
    int experts, layers;
    double params;
  };
  // GShard v1 Table 1 / §4.2 (GSHARD.md §1.1).
  static const Row rows[] = {{128, 12, 12.5e9},  {128, 36, 37e9},  {512, 12, 50e9},
                             {512, 36, 150e9},   {2048, 12, 200e9}, {2048, 36, 600e9},
                             {0, 96, 2.3e9}};
  for (const Row& r : rows)
    if (r.experts == E && r.layers == layers)
      return PaperReference{E > 0 ? "MoE(" + std::to_string(E) + "E, " + std::to_string(layers) + "L)"
                                  : "T(" + std::to_string(layers) + "L)",
                            r.params};
  return std::nullopt;
}

Plan make_plan(const config::Recipe& recipe, const MeshOverride& mesh) {
  Plan p;
  p.recipe = recipe;
  if (mesh.data > 0) p.recipe.mesh.data = mesh.data;
  if (mesh.expert > 0) p.recipe.mesh.expert = mesh.expert;
  if (mesh.data > 0 || mesh.expert > 0) {
    try {
      config::validate_recipe(p.recipe, nullptr);
    } catch (const InputError& e) {
      throw InputError(std::string("--mesh: ") + e.what());
    }
  }
  const ModelConfig& m = p.recipe.model;
  const config::MeshConfig& mc = p.recipe.mesh;
  if (static_cast<std::int64_t>(mc.data) * mc.expert > std::numeric_limits<int>::max())
    throw InputError("mesh.data " + std::to_string(mc.data) + " x mesh.expert " +
                     std::to_string(mc.expert) + ": more devices than an MPI job can have");
  p.devices = mc.data * mc.expert;

  const std::vector<PlannedTensor> all = planned_tensors(m);
  const std::vector<PlannedTensor> local = planned_tensors(m, m.moe.num_experts > 0 ? mc.expert : 1);
  try {
    for (const PlannedTensor& t : all) add_to(p.params, t);
    Count per_device;
    for (const PlannedTensor& t : local) per_device += t.numel();
    p.params_per_device = per_device.get();
    p.optimizer_floats_per_device = optimizer_state_floats(p.recipe.optimizer, local);
    p.memory.params = (4 * per_device).get();
    p.memory.grads = p.memory.params;
    p.memory.optimizer = (4 * Count(p.optimizer_floats_per_device)).get();
  } catch (const CountOverflow&) {
    model_too_large(m);
  }
  p.paper = paper_reference(m);

  for (int stack = 0; stack < 2; ++stack) {
    const bool decoder = stack == 1;
    const std::string prefix = decoder ? "decoder" : "encoder";
    BlockKind kinds[2] = {{prefix + " dense", 0, 0}, {prefix + " moe", 0, 0}};
    for (int i = 0; i < (decoder ? m.dec_layers : m.enc_layers); ++i) {
      const bool moe = m.is_moe_layer(i);
      p.moe_layers += moe ? 1 : 0;
      BlockKind& k = kinds[moe ? 1 : 0];
      if (k.count++ > 0) continue;
      const std::string name = layer_name(decoder, i) + ".";
      for (const PlannedTensor& t : all)  // a part of the total, which fits
        if (t.name.rfind(name, 0) == 0) k.params_each += t.numel();
    }
    for (const BlockKind& k : kinds)
      if (k.count > 0) p.blocks.push_back(k);
  }

  // Within the keys' ranges: 1e12 tokens x 65536 accumulation steps.
  const config::TrainConfig& tr = p.recipe.train;
  p.tokens_per_update = tr.batch_tokens * tr.accum_steps;
  p.tokens_per_device = ceil_div(tr.batch_tokens, p.devices);
  p.seq_len = p.recipe.data.max_len;
  p.sentences_per_device = ceil_div(p.tokens_per_device, p.seq_len);

  try {
    if (p.moe_layers > 0) {
      p.experts_per_device = m.moe.num_experts / mc.expert;
      p.group_size = m.moe.group_size;
      p.groups_per_device = ceil_div(p.tokens_per_device, p.group_size);
      p.capacity = expert_capacity(m.moe, p.group_size, /*training=*/true);
      p.eval_capacity = expert_capacity(m.moe, p.group_size, /*training=*/false);
      if (mc.expert > 1) {
        const Count bytes =
            4 * Count(m.moe.num_experts) * p.groups_per_device * p.capacity * m.d_model;
        p.all_to_all_bytes = bytes.get();
        p.all_to_all_bytes_per_micro_batch = (4 * bytes * p.moe_layers).get();
      }
    }
    const DeviceMemory activations = activation_model(p);
    const DeviceMemory weights = p.memory;
    p.memory = activations;
    p.memory.params = weights.params;
    p.memory.grads = weights.grads;
    p.memory.optimizer = weights.optimizer;
    // total() sums the parts unchecked: it must fit too.
    (Count(p.memory.params) + p.memory.grads + p.memory.optimizer + p.memory.activations +
     p.memory.workspaces)
        .get();
  } catch (const CountOverflow&) {
    throw InputError(
        "a device's memory is too large to count: more than 2^63 bytes (train.batch_tokens " +
        std::to_string(tr.batch_tokens) + " over " + std::to_string(p.devices) +
        " device(s) of mesh.data x mesh.expert, data.max_len " + std::to_string(p.seq_len) +
        ", model.heads " + std::to_string(m.heads) + ", model.moe.group_size " +
        std::to_string(m.moe.group_size) + ", expert capacity " + std::to_string(p.capacity) +
        ", " + model_keys(m) + ")");
  }
  compute_flops(p);
  return p;
}

void check_fits_in_memory(const Plan& p, std::int64_t available_bytes) {
  const std::int64_t needed = p.memory.params + p.memory.grads + p.memory.optimizer;
  if (needed <= available_bytes) return;
  throw InputError("the model's parameters, gradients and optimizer state take " +
                   bytes_str(static_cast<double>(needed)) +
                   " per device (moe-train --plan), more than the " +
                   bytes_str(static_cast<double>(available_bytes)) + " of memory and swap here (" +
                   model_keys(p.recipe.model) + ", mesh.expert " +
                   std::to_string(p.recipe.mesh.expert) + ")");
}

std::string format_plan_table(const Plan& p) {
  const ModelConfig& m = p.recipe.model;
  const config::MeshConfig& mc = p.recipe.mesh;
  std::ostringstream o;
  o << "model        " << (p.paper ? p.paper->model + ": " : std::string()) << "M " << m.d_model << ", H "
    << m.ffn_dim << ", " << m.heads << " heads x " << m.kv_dim() << ", " << m.enc_layers << "+" << m.dec_layers
    << " layers, V " << m.vocab;
  if (p.moe_layers > 0)
    o << ", " << p.moe_layers << " MoE layers of " << m.moe.num_experts << " experts (top-" << m.moe.top_k << ")";
  o << "\nmesh         data " << mc.data << " x expert " << mc.expert << " = " << p.devices << " device"
    << (p.devices == 1 ? "" : "s");
  if (p.moe_layers > 0) o << ", " << p.experts_per_device << " expert(s) per MoE layer per device";
  o << "\n\n" << pad("parameters", 24) << pad("total", 12) << "per device\n";
  const std::int64_t shards = p.moe_layers > 0 ? mc.expert : 1;
  auto row = [&](const std::string& name, std::int64_t total, std::int64_t device) {
    o << "  " << pad(name, 22) << pad(count_str(static_cast<double>(total)), 12)
      << count_str(static_cast<double>(device)) << "\n";
  };
  row("embedding", p.params.embedding, p.params.embedding);
  row("attention", p.params.attention, p.params.attention);
  row("norms", p.params.norm, p.params.norm);
  row("dense FFN", p.params.ffn, p.params.ffn);
  if (p.moe_layers > 0) {
    row("MoE gates", p.params.gate, p.params.gate);
    row("experts", p.params.experts, p.params.experts / shards);
  }
  row("dense (replicated)", p.params.dense(), p.params.dense());
  row("total", p.params.total(), p.params_per_device);
  if (p.paper) {
    o << "  " << pad("paper's figure", 22) << pad(count_str(p.paper->params), 12) << "ours / paper = "
      << fixed(static_cast<double>(p.params.total()) / p.paper->params, 3) << "\n";
  }
  o << "\n" << pad("blocks", 24) << pad("count", 12) << "parameters each\n";
  for (const BlockKind& k : p.blocks)
    o << "  " << pad(k.name, 22) << pad(std::to_string(k.count), 12) << count_str(static_cast<double>(k.params_each))
      << "\n";

  o << "\nbatch        " << p.tokens_per_update << " tokens per update = " << p.recipe.train.batch_tokens
    << " per micro-batch x " << p.recipe.train.accum_steps << " accumulation step(s)\n";
  o << "per device   " << p.tokens_per_device << " source + " << p.tokens_per_device
    << " target tokens per micro-batch (" << p.sentences_per_device << " sentences of L = " << p.seq_len << "), "
    << p.tokens_per_device * p.recipe.train.accum_steps << " per update\n";
  if (p.moe_layers > 0) {
    o << "MoE          group size S " << p.group_size << ", " << p.groups_per_device
      << " group(s) per device, capacity C " << p.capacity << " (eval " << p.eval_capacity << ")\n";
    if (mc.expert > 1)
      o << "all-to-all   " << bytes_str(static_cast<double>(p.all_to_all_bytes))
        << " per rank per exchange per MoE layer (E*G*C*M floats); "
        << bytes_str(static_cast<double>(p.all_to_all_bytes_per_micro_batch)) << " per micro-batch (4 x " << p.moe_layers
        << " layers)\n";
    else
      o << "all-to-all   none (one expert shard)\n";
  }
  o << "\nFLOPs        " << flops_str(p.forward_flops_per_token) << " forward, "
    << flops_str(p.train_flops_per_token) << " training per token ("
    << count_str(p.active_params_per_token) << " weights per token); "
    << flops_str(p.train_flops_per_device_step) << " per device per micro-batch\n";
  if (p.moe_layers > 0)
    o << "dense twin   ffn_dim " << fixed(p.dense_twin_ffn_dim, 0)
      << " in every FFN gives a dense model the same FLOPs per token\n";

  const DeviceMemory& d = p.memory;
  o << "\n" << pad("memory per device", 24) << "(float32)\n";
  auto mem = [&](const std::string& name, std::int64_t bytes) {
    o << "  " << pad(name, 22) << bytes_str(static_cast<double>(bytes)) << "\n";
  };
  mem("parameters", d.params);
  mem("gradients", d.grads);
  mem(std::string("optimizer (") + config::enum_name(p.recipe.optimizer.name) + ")", d.optimizer);
  mem("activations", d.activations);
  mem("  encoder blocks", d.encoder_blocks);
  mem("  decoder blocks", d.decoder_blocks);
  if (p.moe_layers > 0) mem("  MoE buffers", d.moe_buffers);
  mem("  embeddings, loss", d.embeddings_and_loss);
  mem("backward workspaces", d.workspaces);
  mem("total", d.total());
  return o.str();
}

std::string plan_json(const Plan& p) {
  const ModelConfig& m = p.recipe.model;
  Json j;
  j["model"] = {{"d_model", m.d_model}, {"ffn_dim", m.ffn_dim}, {"heads", m.heads}, {"d_kv", m.kv_dim()},
                {"enc_layers", m.enc_layers}, {"dec_layers", m.dec_layers}, {"vocab", m.vocab},
                {"num_experts", m.moe.num_experts}, {"moe_layers", p.moe_layers}, {"top_k", m.moe.top_k}};
  j["mesh"] = {{"data", p.recipe.mesh.data}, {"expert", p.recipe.mesh.expert}, {"devices", p.devices},
               {"experts_per_device", p.experts_per_device}};
  j["params"] = {{"total", p.params.total()},       {"dense", p.params.dense()},
                 {"experts", p.params.experts},     {"embedding", p.params.embedding},
                 {"attention", p.params.attention}, {"norm", p.params.norm},
                 {"ffn", p.params.ffn},             {"gate", p.params.gate},
                 {"per_device", p.params_per_device}};
  Json blocks = Json::array();
  for (const BlockKind& k : p.blocks)
    blocks.push_back({{"kind", k.name}, {"count", k.count}, {"params_each", k.params_each}});
  j["blocks"] = blocks;
  if (p.paper)
    j["paper"] = {{"model", p.paper->model},
                  {"params", p.paper->params},
                  {"ratio", static_cast<double>(p.params.total()) / p.paper->params}};
  j["batch"] = {{"tokens_per_update", p.tokens_per_update}, {"tokens_per_device", p.tokens_per_device},
                {"seq_len", p.seq_len}, {"sentences_per_device", p.sentences_per_device}};
  if (p.moe_layers > 0)
    j["moe"] = {{"group_size", p.group_size},
                {"groups_per_device", p.groups_per_device},
                {"capacity", p.capacity},
                {"eval_capacity", p.eval_capacity},
                {"all_to_all_bytes", p.all_to_all_bytes},
                {"all_to_all_bytes_per_micro_batch", p.all_to_all_bytes_per_micro_batch}};
  j["flops"] = {{"forward_per_token", p.forward_flops_per_token},
                {"train_per_token", p.train_flops_per_token},
                {"active_params_per_token", p.active_params_per_token},
                {"train_per_device_step", p.train_flops_per_device_step}};
  if (p.moe_layers > 0) j["flops"]["dense_twin_ffn_dim"] = p.dense_twin_ffn_dim;
  const DeviceMemory& d = p.memory;
  j["memory_per_device"] = {{"params", d.params},
                            {"grads", d.grads},
                            {"optimizer", d.optimizer},
                            {"optimizer_floats", p.optimizer_floats_per_device},
                            {"activations", d.activations},
                            {"encoder_blocks", d.encoder_blocks},
                            {"decoder_blocks", d.decoder_blocks},
                            {"moe_buffers", d.moe_buffers},
                            {"embeddings_and_loss", d.embeddings_and_loss},
                            {"workspaces", d.workspaces},
                            {"total", d.total()}};
  return j.dump(2) + "\n";
}

}  // namespace moe::train
