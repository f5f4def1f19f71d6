#pragma once
// The training recipe: one plain struct per YAML section, defaults next to
// each field. The visit() functions below are the schema: the YAML reader,
// `--dump-config` and `--help-config` all come from them.
#include <cstdint>
#include <string>
#include <vector>

#include "config/schema.h"
#include "model/model_config.h"
#include "moe/moe_config.h"

namespace moe::config {

struct DataConfig {
  Path corpus_dir;                       // built by the corpus builder: train/ dev/ test/ <lang>.tsv
  std::vector<std::string> langs;        // source languages to use; empty = every language found
  double sampling_temperature = 5.0;     // p_l ~ n_l^(1/T): 1 = proportional, large = uniform
  int max_len = 256;                     // pairs longer than this (subword tokens, either side) are skipped
  bool target_lang_tag = false;          // prepend <2en> to the source (Johnson et al.; needed for X->Y, not X->En)
  std::int64_t pool_batches = 64;        // batches drawn, length-sorted and shuffled together
  int prefetch_batches = 8;              // batches prepared ahead by the data thread
};

struct VocabConfig {
  Path model;                            // SentencePiece .model (source, and target when shared)
  Path target_model;                     // separate English target model; empty = shared
  int size = 32000;                      // pieces, when moe-tokenize trains it from this recipe
  double character_coverage = 0.9995;
  std::string model_type = "unigram";    // unigram | bpe
};

enum class OptimizerKind { kAdafactor, kAdam, kAdamW };
enum class ScheduleKind { kRsqrtPlateau, kInverseSqrt, kConstant };
enum class EvalMetric { kBleu, kChrf, kLoss };

struct TrainConfig {
  std::int64_t seed = 1;                 // fixes data order, initialisation and routing noise
  std::int64_t batch_tokens = 4096;      // padded: sentences x max(src, tgt) length
  int accum_steps = 1;                   // batches whose gradients are summed before one update
  std::int64_t max_steps = 0;            // stop after this many updates (0 = no limit)
  std::int64_t max_tokens = 0;           // ... or this many target tokens (0 = no limit)
  double max_minutes = 0;                // ... or this much wall-clock time (0 = no limit)
  double clip_norm = 0;                  // global gradient-norm clipping (0 = off)
  int log_every = 50;                    // steps between log lines / metrics.jsonl records
  int threads = 0;                       // compute threads per process (0 = all cores)
};

struct OptimizerConfig {
  OptimizerKind name = OptimizerKind::kAdafactor;
  double lr = 1.0;                       // peak learning rate (multiplies the schedule)
  double beta1 = 0.0;                    // Adafactor: 0 = no first moment (GShard); Adam: 0.9 typical
  double beta2 = 0.98;                   // Adam's second-moment decay
  double eps = 1e-9;                     // Adam's epsilon
  double weight_decay = 0.0;             // AdamW decoupled decay
  double decay_pow = 0.8;                // Adafactor: second-moment decay 1 - (t+1)^-decay_pow
  double clip_threshold = 1.0;           // Adafactor update clipping d
  double eps1 = 1e-30;                   // Adafactor: added to squared gradients
  double eps2 = 1e-3;                    // Adafactor: floor of the parameter scale
  bool multiply_by_parameter_scale = true;  // Adafactor relative step size
  int min_dim_size_to_factor = 128;      // Adafactor factors matrices whose 2nd-largest dim >= this
};

struct ScheduleConfig {
  ScheduleKind name = ScheduleKind::kRsqrtPlateau;
  std::int64_t warmup_steps = 10000;     // rsqrt_plateau: lr / sqrt(max(step, warmup)); inverse_sqrt: linear ramp
};

struct CheckpointConfig {
  Path dir;                              // run directory (checkpoints, metrics.jsonl, report)
  std::int64_t every = 1000;             // steps between checkpoints
  int keep_last = 3;                     // step checkpoints kept besides `best`
};

struct EvalConfig {
  std::int64_t every = 1000;             // steps between validations (0 = never)
  int max_sentences = 500;               // dev pairs per language validated: loss and BLEU/chrF (0 = all)
  EvalMetric metric = EvalMetric::kBleu; // picks the `best` checkpoint
  int beam_size = 1;                     // 1 = greedy
  int patience = 0;                      // stop after this many validations without improvement (0 = never)
  bool final_decode = false;             // metric loss: the last validation decodes too (per-language BLEU/chrF)
};

struct MeshConfig {
  int data = 1;                          // data-parallel axis size
  int expert = 1;                        // expert-parallel axis size (experts are split along it)
};

// A whole recipe: `moe-train RECIPE.yaml`.
struct Recipe {
  DataConfig data;
  VocabConfig vocab;
  ModelConfig model;
  TrainConfig train;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  MeshConfig mesh;
};

class Source;
// Reads RECIPE (with its includes) and the --set overrides, then checks the
// values together (model shape rules, experts divisible by the expert axis).
// Every error is an InputError naming the file and line of the key at fault.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from an already assembled source (e.g. a checkpoint's stored recipe).
Recipe load_recipe(const Source& source);
// Checks cross-field rules; `source` (may be null) locates the keys in errors.
void validate_recipe(const Recipe& recipe, const Source* source);
// The first line of recipe_to_yaml(): marks a file as moe-train's own dump.
inline constexpr const char* kRecipeDumpHeader = "# moe-nmt recipe, every key with its effective value (moe-train --dump-config)";
// The recipe as YAML, every field with its effective value and paths absolute,
// so the text reads back to the same recipe from any folder.
std::string recipe_to_yaml(const Recipe& recipe);

}  // namespace moe::config

namespace moe::config {

template <>
struct EnumNames<SecondExpertPolicy> {
  static const std::vector<std::pair<SecondExpertPolicy, const char*>>& get() {
    static const std::vector<std::pair<SecondExpertPolicy, const char*>> names = {
        {SecondExpertPolicy::kAll, "all"},
        {SecondExpertPolicy::kRandom, "random"},
        {SecondExpertPolicy::kThreshold, "threshold"}};
    return names;
  }
};
template <>
struct EnumNames<NormType> {
  static const std::vector<std::pair<NormType, const char*>>& get() {
    static const std::vector<std::pair<NormType, const char*>> names = {
        {NormType::kLayerNorm, "layer_norm"}, {NormType::kRmsNorm, "rms_norm"}};
    return names;
  }
};
template <>
struct EnumNames<OptimizerKind> {
  static const std::vector<std::pair<OptimizerKind, const char*>>& get() {
    static const std::vector<std::pair<OptimizerKind, const char*>> names = {
        {OptimizerKind::kAdafactor, "adafactor"}, {OptimizerKind::kAdam, "adam"},
        {OptimizerKind::kAdamW, "adamw"}};
    return names;
  }
};
template <>
struct EnumNames<ScheduleKind> {
  static const std::vector<std::pair<ScheduleKind, const char*>>& get() {
    static const std::vector<std::pair<ScheduleKind, const char*>> names = {
        {ScheduleKind::kRsqrtPlateau, "rsqrt_plateau"},
        {ScheduleKind::kInverseSqrt, "inverse_sqrt"},
        {ScheduleKind::kConstant, "constant"}};
    return names;
  }
};
template <>
struct EnumNames<EvalMetric> {
  static const std::vector<std::pair<EvalMetric, const char*>>& get() {
    static const std::vector<std::pair<EvalMetric, const char*>> names = {
        {EvalMetric::kBleu, "bleu"}, {EvalMetric::kChrf, "chrf"}, {EvalMetric::kLoss, "loss"}};
    return names;
  }
};

template <class V>
void visit(V& v, MoeConfig& c) {
  v.field("num_experts", c.num_experts, "E, experts per MoE layer (0 = dense model)", Range(0, 1 << 20));
  v.field("top_k", c.top_k, "experts per token: 2 = GShard, 1 = Switch", Range(1, 2));
  v.field("group_size", c.group_size, "S, tokens gated together", Range(1, 1 << 24));
  v.field("capacity_factor", c.capacity_factor, "training capacity C = ceil(S*cf/E)", Range(0, 1e6));
  v.field("eval_capacity_factor", c.eval_capacity_factor, "capacity factor at evaluation", Range(0, 1e6));
  v.field("min_capacity", c.min_capacity, "C is at least this", Range(0, 1 << 24));
  v.field("round_capacity_to", c.round_capacity_to, "C rounded up to a multiple (4 = lingvo)", Range(1, 1024));
  v.field("capacity", c.capacity, "explicit C (0 = from the factors)", Range(0, 1 << 24));
  v.field("second_expert_policy", c.second_expert_policy, "what happens to 2nd choices");
  v.field("second_expert_threshold", c.second_expert_threshold,
          "random: keep iff u < g2/threshold; threshold: keep iff g2 > threshold", Range(1e-9, 1));
  v.field("aux_loss_coef", c.aux_loss_coef, "k in loss = nll + k * sum of aux losses", Range(0, 1e3));
}

template <class V>
void visit(V& v, DataConfig& c) {
  v.field("corpus_dir", c.corpus_dir, "corpus built by moe-tokenize corpus (train/ dev/ test/)");
  v.field("langs", c.langs, "source languages; empty = all");
  v.field("sampling_temperature", c.sampling_temperature, "T in p_l ~ n_l^(1/T)", Range(1e-3, 1e6));
  v.field("max_len", c.max_len, "max subword tokens per side", Range(1, 1 << 16));
  v.field("target_lang_tag", c.target_lang_tag, "prepend <2en> to the source");
  v.field("pool_batches", c.pool_batches, "batches length-sorted together (padding vs randomness)", Range(1, 1 << 20));
  v.field("prefetch_batches", c.prefetch_batches, "batches prepared ahead", Range(1, 1024));
}

template <class V>
void visit(V& v, VocabConfig& c) {
  v.field("model", c.model, "SentencePiece model (source, and target if shared)");
  v.field("target_model", c.target_model, "separate target model; empty = shared");
  v.field("size", c.size, "vocabulary size when training the model", Range(16, 1 << 22));
  v.field("character_coverage", c.character_coverage, "SentencePiece character coverage", Range(0.5, 1));
  v.field("model_type", c.model_type, "unigram | bpe");
}

template <class V>
void visit(V& v, TrainConfig& c) {
  v.field("seed", c.seed, "fixes data order, init and routing noise", Range(0, 9.0e18));
  v.field("batch_tokens", c.batch_tokens,
          "padded tokens per batch: sentences x their longest source or target length",
          Range(1, 1e12));
  v.field("accum_steps", c.accum_steps, "batches per update", Range(1, 1 << 16));
  v.field("max_steps", c.max_steps, "stop after N updates (0 = no limit)", Range(0, 9.0e18));
  v.field("max_tokens", c.max_tokens, "stop after N target tokens (0 = no limit)", Range(0, 9.0e18));
  v.field("max_minutes", c.max_minutes, "stop after N minutes (0 = no limit)", Range(0, 1e9));
  v.field("clip_norm", c.clip_norm, "global gradient-norm clip (0 = off)", Range(0, 1e9));
  v.field("log_every", c.log_every, "steps between log lines", Range(1, 1 << 30));
  v.field("threads", c.threads, "compute threads (0 = all cores)", Range(0, 1024));
}

template <class V>
void visit(V& v, OptimizerConfig& c) {
  v.field("name", c.name, "optimizer");
  v.field("lr", c.lr, "peak learning rate", Range(0, 1e6));
  v.field("beta1", c.beta1, "first-moment decay (Adafactor: 0 = none)", Range(0, 0.999999));
  v.field("beta2", c.beta2, "Adam second-moment decay", Range(0, 0.999999999));
  v.field("eps", c.eps, "Adam epsilon", Range::above(0, 1));
  v.field("weight_decay", c.weight_decay, "AdamW decoupled weight decay", Range(0, 1));
  v.field("decay_pow", c.decay_pow, "Adafactor second-moment decay 1-(t+1)^-pow", Range(0, 1));
  v.field("clip_threshold", c.clip_threshold, "Adafactor update clipping (0 = off)", Range(0, 1e9));
  v.field("eps1", c.eps1, "Adafactor epsilon on squared gradients", Range::above(0, 1));
  v.field("eps2", c.eps2, "Adafactor parameter-scale floor", Range::above(0, 1));
  v.field("multiply_by_parameter_scale", c.multiply_by_parameter_scale, "Adafactor relative step");
  v.field("min_dim_size_to_factor", c.min_dim_size_to_factor, "Adafactor factoring threshold", Range(1, 1 << 30));
}

template <class V>
void visit(V& v, ScheduleConfig& c) {
  v.field("name", c.name, "learning-rate schedule");
  v.field("warmup_steps", c.warmup_steps, "warm-up (plateau for rsqrt_plateau)", Range(0, 9.0e18));
}

template <class V>
void visit(V& v, CheckpointConfig& c) {
  v.field("dir", c.dir, "run directory");
  v.field("every", c.every, "steps between checkpoints", Range(1, 9.0e18));
  v.field("keep_last", c.keep_last, "step checkpoints kept besides best", Range(1, 1 << 20));
}

template <class V>
void visit(V& v, EvalConfig& c) {
  v.field("every", c.every, "steps between validations (0 = never)", Range(0, 9.0e18));
  v.field("max_sentences", c.max_sentences, "dev pairs per language validated: loss and decoding (0 = all)", Range(0, 1 << 30));
  v.field("metric", c.metric, "picks the best checkpoint");
  v.field("beam_size", c.beam_size, "beam for dev decoding (1 = greedy)", Range(1, 256));
  v.field("patience", c.patience, "early stopping patience (0 = off)", Range(0, 1 << 20));
  v.field("final_decode", c.final_decode, "metric loss: decode at the last validation too (report's BLEU bars)");
}

template <class V>
void visit(V& v, ModelConfig& c) {
  v.field("vocab", c.vocab, "V, vocabulary size (must equal the SentencePiece model's)", Range(4, 1 << 24));
  v.field("d_model", c.d_model, "M, model dimension", Range(1, 1 << 16));
  v.field("ffn_dim", c.ffn_dim, "H, hidden width of dense FFNs and of each expert", Range(1, 1 << 20));
  v.field("heads", c.heads, "attention heads", Range(1, 1024));
  v.field("d_kv", c.d_kv, "per-head key/value width (0 = d_model / heads)", Range(0, 1 << 16));
  v.field("enc_layers", c.enc_layers, "encoder layers", Range(0, 1024));
  v.field("dec_layers", c.dec_layers, "decoder layers", Range(1, 1024));
  v.field("moe_every", c.moe_every, "every k-th FFN is MoE (0 = none)", Range(0, 1024));
  v.field("moe_offset", c.moe_offset, "layer i is MoE iff i % moe_every == moe_offset", Range(0, 1023));
  v.section("moe", c.moe, "mixture-of-experts layers (GSHARD.md section 3)");
  v.field("dropout", c.dropout, "dropout on embeddings, residual branches, FFN hidden", Range(0, 0.99));
  v.field("attention_dropout", c.attention_dropout, "dropout on attention probabilities", Range(0, 0.99));
  v.field("label_smoothing", c.label_smoothing, "label smoothing eps", Range(0, 0.99));
  v.field("max_positions", c.max_positions, "longest sequence (positions table)", Range(1, 1 << 20));
  v.field("norm", c.norm, "layer_norm (torch) or rms_norm (lingvo)");
  v.field("norm_eps", c.norm_eps, "normalisation epsilon", Range(1e-12, 1));
}

template <class V>
void visit(V& v, Recipe& r) {
  v.section("data", r.data, "training data");
  v.section("vocab", r.vocab, "SentencePiece vocabulary");
  v.section("model", r.model, "the encoder-decoder");
  v.section("train", r.train, "the training loop");
  v.section("optimizer", r.optimizer, "optimizer");
  v.section("schedule", r.schedule, "learning-rate schedule");
  v.section("checkpoint", r.checkpoint, "checkpoints and the run directory");
  v.section("eval", r.eval, "validation");
  v.section("mesh", r.mesh, "device mesh (mpirun ranks = data x expert)");
}

template <class V>
void visit(V& v, MeshConfig& c) {
  v.field("data", c.data, "data-parallel axis size", Range(1, 1 << 20));
  v.field("expert", c.expert, "expert-parallel axis size", Range(1, 1 << 20));
}

}  // namespace moe::config
