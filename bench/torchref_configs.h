#pragma once
// The model shapes of the PyTorch reference's benchmarks
// (../shared/bench/torchref/moe_transformer.py make_config), shared by every
// bench that compares against it:
//   tiny:  d_model 256, ffn 1024, 4 heads, 3+3 layers, 8 experts, vocab 8000
//   small: d_model 512, ffn 2048, 8 heads, 6+6 layers, 16 experts, vocab 32000
// "-dense" suffixes give the dense twins. MoE on layers 1, 3, 5 (torchref's
// i % 2 == 1), top-2, group size 1024, second expert always dispatched,
// capacity factor 2.0 in lingvo's convention (= torchref's 1.0), dropout 0.
#include <string>

#include "model/model_config.h"
#include "util/error.h"

inline moe::ModelConfig torchref_config(const std::string& name) {
  const bool small = name.rfind("small", 0) == 0;
  if (!small && name.rfind("tiny", 0) != 0) throw moe::InputError("unknown config '" + name + "'");
  moe::ModelConfig c;
  c.vocab = small ? 32000 : 8000;
  c.d_model = small ? 512 : 256;
  c.ffn_dim = small ? 2048 : 1024;
  c.heads = small ? 8 : 4;
  c.enc_layers = c.dec_layers = small ? 6 : 3;
  c.moe.num_experts = name.find("dense") != std::string::npos ? 0 : (small ? 16 : 8);
  c.moe_every = 2;
  c.moe_offset = 1;
  c.moe.group_size = 1024;
  c.moe.capacity_factor = 2.0;
  c.moe.second_expert_policy = moe::SecondExpertPolicy::kAll;
  c.dropout = 0.0;
  c.label_smoothing = 0.1;
  return c;
}
