#pragma once
// Hyper-parameters of the encoder-decoder (plain data: the recipe reader
// fills it, the model and `moe-train --plan` read it). Defaults are the
// torchref "small" shape; see docs/model.md.
#include <cstdint>

#include "moe/moe_config.h"
#include "nn/layer_norm.h"

namespace moe {

struct ModelConfig {
  int vocab = 32000;          // V, one vocabulary shared by source and target
  int d_model = 512;          // M
  int ffn_dim = 2048;         // H, hidden width of dense FFNs and of every expert
  int heads = 8;              // attention heads
  int d_kv = 0;               // per-head query/key/value width; 0 = d_model / heads
  int enc_layers = 6;         // encoder layers
  int dec_layers = 6;         // decoder layers
  int moe_every = 2;          // layer i is MoE iff moe.num_experts > 0, moe_every > 0 and
  int moe_offset = 1;         //   i % moe_every == moe_offset (1 = torchref; GSHARD.md uses 0)
  MoeConfig moe;              // the MoE layers (moe.num_experts = 0: dense model)
  double dropout = 0.1;       // embeddings, residual branches and the dense FFN hidden layer
  double attention_dropout = 0.0;  // on attention probabilities
  double label_smoothing = 0.1;    // eps of torch's label-smoothed cross entropy
  int max_positions = 1024;   // longest source or target sequence (sinusoid table rows)
  NormType norm = NormType::kLayerNorm;  // kRmsNorm = GSHARD.md §2.3 (no centring, no bias)
  double norm_eps = 1e-5;     // LayerNorm epsilon (torch 1e-5; lingvo RMS norm 1e-6)
  int pad_id = 0;             // padding token: ignored by attention, loss and routing
  int bos_id = 1;             // first decoder input token
  int eos_id = 2;             // end of sentence

  // Per-head width actually used.
  std::int64_t kv_dim() const { return d_kv > 0 ? d_kv : d_model / (heads > 0 ? heads : 1); }
  // Whether layer i (0-based, of either stack) uses a MoE FFN.
  bool is_moe_layer(int i) const {
    return moe.num_experts > 0 && moe_every > 0 && i % moe_every == moe_offset;
  }
  // Throws InputError naming the offending key ("model.d_model: ...").
  void validate() const;
};

}  // namespace moe
