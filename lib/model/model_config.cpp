#include "model/model_config.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace moe {
namespace {

void require(bool ok, const char* key, const std::string& what) {
  if (!ok) throw InputError(std::string("model.") + key + ": " + what);
}

}  // namespace

void ModelConfig::validate() const {
  require(vocab > 3, "vocab", "must be > 3 (pad, bos, eos and at least one token)");
  require(d_model > 0, "d_model", "must be positive");
  require(ffn_dim > 0, "ffn_dim", "must be positive");
  require(heads > 0, "heads", "must be positive");
  require(d_kv >= 0, "d_kv", "must be >= 0 (0 = d_model / heads)");
  require(d_kv > 0 || d_model % heads == 0, "d_kv",
          "is 0 but d_model " + std::to_string(d_model) + " is not divisible by heads " +
              std::to_string(heads));
  require(enc_layers >= 0, "enc_layers", "must be >= 0");
  require(dec_layers > 0, "dec_layers", "must be positive");
  require(moe_every >= 0, "moe_every", "must be >= 0");
  require(moe_every == 0 || (moe_offset >= 0 && moe_offset < moe_every), "moe_offset",
          "must be in [0, moe_every)");
  require(moe.num_experts >= 0, "moe.num_experts", "must be >= 0");
  // Experts that no layer uses would make a dense model that calls itself MoE.
  const int deepest = std::max(enc_layers, dec_layers);
  require(moe.num_experts == 0 || moe_every == 0 || moe_offset < deepest, "moe_offset",
          std::to_string(moe_offset) + " leaves no MoE layer in " + std::to_string(deepest) +
              " layers (moe.num_experts: 0 for a dense model)");
  require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1)");
  require(attention_dropout >= 0 && attention_dropout < 1, "attention_dropout",
          "must be in [0, 1)");
  require(label_smoothing >= 0 && label_smoothing < 1, "label_smoothing", "must be in [0, 1)");
  require(max_positions > 0, "max_positions", "must be positive");
  require(norm_eps > 0, "norm_eps", "must be positive");
  for (int id : {pad_id, bos_id, eos_id})
    require(id >= 0 && id < vocab, "pad_id/bos_id/eos_id",
            "id " + std::to_string(id) + " outside the vocabulary");
}

}  // namespace moe
