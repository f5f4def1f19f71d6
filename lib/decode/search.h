#pragma once
// Batched beam search, greedy decoding and sampling over any model that can
// take one decoder step at a time (docs/translate.md).
//
// The search talks to the model through StepModel, so tests can script the
// next-token distributions and the real Transformer plugs in through
// TransformerStepModel (decode/transformer_step_model.h). One Searcher
// decodes a batch of sources together: each sentence holds up to K rows
// (K = beam_size), rows of finished sentences leave the batch, and each step
// feeds the model only the live rows.
//
// Algorithm (fairseq's, with an exact early stop):
//   * step t extends every live row by one token; the K best of the
//     sentence's 2K best (row, token) candidates that are not EOS become the
//     next rows, and EOS candidates among the first K become finished
//     hypotheses (scored with the length penalty);
//   * a sentence is done when it has K finished hypotheses, or when its
//     n_best-th finished score cannot be beaten by any live row even at the
//     maximum length (log-probabilities only fall and the penalty only grows),
//     or when it reaches its maximum length (every live row then ends with
//     EOS);
//   * K = 1 is greedy decoding.
// Sampling replaces the top-K selection: each of the K rows of a sentence
// draws its next token (top-k and temperature), rows end on EOS.
//
// Scores: log_prob = sum of the model's log-probabilities of the tokens,
// EOS included; score = log_prob / lp(|Y|) with |Y| the token count with EOS:
//   GNMT (default)        lp = ((5 + |Y|) / 6)^alpha
//   normalize (Marian -n) lp = |Y|^alpha
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe::decode {

struct SamplingOptions {
  bool enabled = false;     // false: beam search (greedy when beam_size is 1)
  int top_k = 0;            // sample among the k most likely tokens (0 = the whole vocabulary)
  double temperature = 1.0; // divides the log-probabilities before the softmax (> 0)
};

struct SearchOptions {
  int beam_size = 4;            // K; 1 = greedy; with sampling: samples drawn per sentence
  double alpha = 0.6;           // length-penalty exponent (>= 0; 0 = raw log-probability)
  bool normalize = false;       // lp = |Y|^alpha (Marian's --normalize) instead of GNMT's
  double max_length_a = 1.5;    // max target tokens (EOS excluded) = a * source tokens + b,
  int max_length_b = 10;        //   capped by the model's positions
  int min_length = 0;           // EOS is not allowed before this many target tokens (fairseq --min-len)
  // Tokens the search never produces, in any mode: their log-probability is
  // set to -inf before selection (the Translator bans pad, BOS and language
  // tags, which are instructions to the model, not text). Must not hold EOS.
  std::vector<std::int32_t> never_generate;
  int n_best = 1;               // hypotheses returned per source (<= beam_size)
  SamplingOptions sampling;
  std::uint64_t seed = 1;       // sampling streams: Rng(seed, "decode.sampling", stream index)
  // Batching of translate(): sentences sorted by length, at most mini_batch
  // sentences and (when > 0) max_batch_tokens padded source tokens a batch.
  int mini_batch = 32;
  std::int64_t max_batch_tokens = 0;
  // Record, for every hypothesis, the expert routes the model reports for
  // each decoding step (StepModel::route_width); nothing is recorded, and
  // nothing costs, when false.
  bool report_routing = false;
};

// Throws InputError naming the first bad field ("beam_size: must be >= 1, got 0").
void validate(const SearchOptions& options);

// Parses the --sampling value: "topk:K", "temperature:T", or both joined by
// a comma ("topk:40,temperature:0.8"). Throws InputError otherwise.
SamplingOptions parse_sampling(const std::string& spec);

// One token's routing in one MoE layer: its first and second choice and the
// combine weights they got (0 for a choice that was dropped or skipped;
// expert -1 for no choice, e.g. the second choice of a top-1 layer).
struct ExpertRoute {
  std::int32_t expert[2] = {-1, -1};
  float weight[2] = {0, 0};
};

struct Hypothesis {
  std::vector<std::int32_t> tokens;  // without EOS
  double score = 0;                  // final, length-penalised: what the n-best is ordered by
  double log_prob = 0;               // sum of token log-probabilities, EOS included
  // With SearchOptions::report_routing: [tokens.size() + 1, W] (W = the
  // model's route_width()); row t holds the routes of the decoder position
  // that predicted token t (the last row: EOS), i.e. of the step whose input
  // was token t-1 (BOS for t = 0). Empty otherwise.
  std::vector<ExpertRoute> routes;
};

// The length penalty lp(|Y|) of the options for a hypothesis of `length`
// tokens EOS included.
double length_penalty(const SearchOptions& options, std::int64_t length);

// A model that decodes incrementally. Ownership: the model keeps whatever
// state it needs between calls (encoder output, key/value caches).
class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual int vocab_size() const = 0;                   // V
  virtual std::int32_t eos_id() const = 0;
  virtual std::int32_t bos_id() const = 0;
  // Longest target the model can produce, EOS excluded (e.g. positions - 1).
  virtual std::int64_t max_target_length() const = 0;
  // Starts a batch: one row per source (source i is row i). Each source is
  // token ids ending with EOS.
  virtual void start(std::span<const std::span<const std::int32_t>> sources) = 0;
  // Feeds tokens [R] (one per live row, BOS at the first step) and writes the
  // next-token log-probabilities log_probs [R,V].
  virtual void step(std::span<const std::int32_t> tokens, TensorView<float> log_probs) = 0;
  // New row i continues old row rows[i] (rows may repeat, grow or shrink the set).
  virtual void reorder(std::span<const std::int32_t> rows) = 0;
  // Routing report (optional): W route entries per row and step (one per
  // decoder MoE layer for the Transformer); 0 = the model reports none.
  virtual int route_width() const { return 0; }
  // After step(): routes [R, W] of the rows just stepped, in row order.
  virtual void step_routes(std::span<ExpertRoute> routes) const { (void)routes; }
};

// Decodes batches; keeps its workspaces between calls, so steady-state steps
// do not allocate (finished hypotheses own their token vectors).
class Searcher {
 public:
  explicit Searcher(const SearchOptions& options);  // validates the options

  // sources [B] token ids ending with EOS; stream_ids [B] sampling streams
  // (ignored without sampling). Returns [B] lists of at most n_best
  // hypotheses, best first.
  std::vector<std::vector<Hypothesis>> run(StepModel& model,
                                           std::span<const std::span<const std::int32_t>> sources,
                                           std::span<const std::uint64_t> stream_ids);

 private:
  struct Candidate {
    double total;         // row log_prob + token log-probability
    float token_log_prob;
    std::int32_t row, token;
  };
  struct SentenceState {
    std::int64_t max_length = 0;   // target tokens without EOS
    std::int32_t row_begin = 0, row_count = 0;
    bool done = false;
    std::vector<Hypothesis> finished;
  };

  // Fills candidates_ [R, per_row] with each row's best tokens, best first.
  void collect_row_candidates(std::int64_t rows, int per_row);
  void select_beam(SentenceState& s, std::int64_t step);
  void select_samples(SentenceState& s, std::int64_t step, Rng& rng);
  void finish_row(SentenceState& s, std::int32_t row, std::int64_t step, float eos_log_prob);
  void keep_row(std::int32_t row, std::int32_t token, double log_prob);
  // Copies route history rows along next_rows_ and appends this step's routes.
  void advance_routes(std::int64_t step);
  bool can_stop_early(const SentenceState& s) const;

  SearchOptions options_;
  std::int32_t eos_ = 2;
  int vocab_ = 0;
  std::int64_t history_width_ = 0;       // L: max target length of the batch + 1
  Tensor<float> log_probs_;              // [R,V]
  std::vector<std::int32_t> tokens_;     // [R] fed at the next step
  std::vector<double> row_log_prob_;     // [R]
  std::vector<std::int32_t> history_;    // [R,L] tokens so far of each row
  std::vector<Candidate> candidates_;    // [R, per_row]
  std::vector<Candidate> merged_;        // one sentence's candidates
  std::vector<std::pair<float, std::int32_t>> heap_;  // top-k workspace per thread
  std::vector<float> weights_;           // sampling workspace [V]
  // Next step's rows (built while selecting).
  std::vector<std::int32_t> next_rows_, next_tokens_;
  std::vector<double> next_log_prob_;
  std::vector<std::int32_t> next_history_;
  // Routing report only (route_width_ = W > 0): per row its routes so far
  // [R, L, W], and this step's [R, W]; follows back-pointers like history_.
  std::int64_t route_width_ = 0;
  std::vector<ExpertRoute> route_history_, next_route_history_, step_routes_;
};

}  // namespace moe::decode
