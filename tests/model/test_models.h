#pragma once
// Tiny configurations and batches shared by the model tests.
#include "model/transformer.h"

namespace moe::testing {

// A model small enough for finite differences over every tensor.
inline ModelConfig tiny_config(int experts) {
  ModelConfig c;
  c.vocab = 13;
  c.d_model = 8;
  c.ffn_dim = 12;
  c.heads = 2;
  c.d_kv = 3;  // heads * d_kv != d_model on purpose
  c.enc_layers = 2;
  c.dec_layers = 2;
  c.moe_every = 2;
  c.moe_offset = 1;
  c.moe.num_experts = experts;
  c.moe.second_expert_policy = SecondExpertPolicy::kAll;
  c.moe.group_size = 8;
  c.moe.capacity = 64;  // no token is ever dropped: routing is smooth under tiny perturbations
  c.moe.aux_loss_coef = 0.1;
  c.dropout = 0.1;
  c.attention_dropout = 0.1;
  c.label_smoothing = 0.1;
  c.max_positions = 32;
  return c;
}

// B=2 sentences; sentence 1 is shorter (padded) on both sides.
inline Batch tiny_batch() {
  Batch b;
  b.batch = 2;
  b.src_len = 5;
  b.tgt_len = 4;
  b.src = {5, 6, 7, 8, 9, /**/ 10, 4, 3, 0, 0};
  b.tgt_in = {1, 4, 5, 6, /**/ 1, 7, 0, 0};
  b.labels = {4, 5, 6, 2, /**/ 7, 2, 0, 0};
  return b;
}

}  // namespace moe::testing
