#pragma once
// The Transformer behind the search's StepModel interface: encode() once per
// batch (the encoder output and the per-layer cross-attention keys/values
// are then reused by every step), the self-attention key/value cache grows
// by one position a step, and reorder() gathers it along beam back-pointers,
// dropping the rows of finished sentences so each step only runs live rows.
// The encoder output keeps finished sentences: each row attends only to its
// own sentence, so they cost memory, not time.
//
// encoder_tokens_per_call > 0 runs the encoder over consecutive chunks of
// sentences of at most that many padded tokens (at least one sentence) and
// concatenates the outputs: the same numbers when MoE routing cannot drop
// tokens (every other encoder operation is per sentence), while MoE buffers
// sized by the tokens of one call stay bounded.
//
// report_routing: route_width() is the number of decoder MoE layers W, and
// start() keeps every source token's routes in the encoder MoE layers
// (source_routes()); off, nothing is copied.
//
// Experts sharded over ranks (the model has an expert axis of > 1 ranks,
// every rank decoding the same batches): step() broadcasts expert-axis rank
// 0's log-probabilities, so every rank's search takes the same decisions and
// so runs the same steps with the same rows, which the MoE all-to-all needs.
// (The ranks compute the same numbers anyway; the broadcast makes lockstep a
// guarantee rather than a property of floating point, for R*V floats a step.)
//
// Ownership: holds a reference to the model (which must outlive it) and owns
// the batch's EncoderOutput [B,S,M] and DecoderState (caches [R,T,2*h*dk]).
#include <cstdint>
#include <span>
#include <vector>

#include "decode/search.h"
#include "model/transformer.h"

namespace moe::decode {

class TransformerStepModel final : public StepModel {
 public:
  explicit TransformerStepModel(Transformer<float>& model, std::int64_t encoder_tokens_per_call = 0,
                                bool report_routing = false);

  int vocab_size() const override { return model_.config().vocab; }
  std::int32_t eos_id() const override { return model_.config().eos_id; }
  std::int32_t bos_id() const override { return model_.config().bos_id; }
  // The decoder's last position carries the last token's prediction.
  std::int64_t max_target_length() const override { return model_.config().max_positions - 1; }
  // Pads the sources into [B,S] with pad_id and runs the encoder. Throws
  // InputError for a source longer than max_positions.
  void start(std::span<const std::span<const std::int32_t>> sources) override;
  void step(std::span<const std::int32_t> tokens, TensorView<float> log_probs) override;
  void reorder(std::span<const std::int32_t> rows) override;
  int route_width() const override { return report_routing_ ? static_cast<int>(decoder_moe_.size()) : 0; }
  void step_routes(std::span<ExpertRoute> routes) const override;

  // With report_routing, of the batch start() began: sentence i's source
  // routes [S_i, W_enc] (S_i = its tokens, EOS included; W_enc = encoder MoE
  // layers, in layer order). Empty without report_routing.
  std::span<const ExpertRoute> source_routes(std::size_t sentence) const { return source_routes_[sentence]; }
  int source_route_width() const { return static_cast<int>(encoder_moe_.size()); }

 private:
  // Copies the encoder MoE layers' routes of sentences [first, first + count)
  // (just encoded, padded to src_len) into source_routes_.
  void keep_source_routes(std::span<const std::span<const std::int32_t>> sources, std::int64_t first,
                          std::int64_t count, std::int64_t src_len);

  // Appends sentences [first, first + count) of padded_ encoded to encoder_.
  void append_encoded(std::int64_t first, std::int64_t count, std::int64_t src_len);

  Transformer<float>& model_;
  std::int64_t encoder_tokens_per_call_;
  std::vector<std::int32_t> padded_;  // [B,S]
  EncoderOutput<float> encoder_;
  DecoderState<float> state_;
  std::vector<std::int32_t> rows_;    // reorder() argument workspace
  bool report_routing_ = false;
  std::vector<const MoeLayer<float>*> encoder_moe_, decoder_moe_;  // in layer order
  std::vector<std::vector<ExpertRoute>> source_routes_;           // [B][S_i * W_enc]
  Collectives* replicas_ = nullptr;   // expert axis of > 1 ranks: log_probs come from its rank 0
};

}  // namespace moe::decode
