#pragma once
// Token-level translation with the Transformer: sort by length, batch,
// search, restore input order. This is what the trainer's validation calls;
// decode/translator.h adds the text side (SentencePiece, checkpoints).
#include <cstdint>
#include <span>
#include <vector>

#include "decode/search.h"
#include "model/transformer.h"

namespace moe::decode {

// The configuration to build an inference model from. MoE layers route each
// token independently at evaluation, so only capacity can change a result:
// moe_capacity_factor 0 (the default) makes capacity C equal to the group
// size S (capped at 64, which then changes nothing), which no expert can
// overflow: nothing is ever dropped. > 0 keeps the recipe's S and uses
// C = ceil(S * factor / E) as during evaluation in training (tokens over C
// are dropped, as GShard's decoder does). Throws InputError when negative.
ModelConfig inference_config(const ModelConfig& trained, double moe_capacity_factor);

// sources [N]: token ids ending with EOS (the training-time source format,
// see encode_source in decode/translator.h). Returns [N] lists of
// options.n_best hypotheses (fewer only if the search finished fewer), best
// first, in input order. Batches: sources sorted by length (longest first,
// ties in input order), at most options.mini_batch sentences and, when
// options.max_batch_tokens > 0, at most that many padded source tokens each
// (a longer single sentence still forms its own batch). Sampling draws for
// source i from stream i. With a dropless MoE model (inference_config with
// factor 0) the encoder runs over chunks of about 16384 / E tokens.
std::vector<std::vector<Hypothesis>> translate(Transformer<float>& model,
                                               const std::vector<std::vector<std::int32_t>>& sources,
                                               const SearchOptions& options);
// The same with the sampling stream of each source given ([N]), so input
// translated in chunks samples exactly as one call would. With
// options.report_routing each hypothesis carries its decoder routes [|Y|+1,
// W_dec] (Hypothesis::routes) and, when source_routes is given, it receives
// [N][S_i * W_enc]: every source token's routes in the encoder MoE layers
// (layer order of model.moe_layers(); S_i = sources[i].size()).
std::vector<std::vector<Hypothesis>> translate(Transformer<float>& model,
                                               const std::vector<std::vector<std::int32_t>>& sources,
                                               const SearchOptions& options,
                                               std::span<const std::uint64_t> stream_ids,
                                               std::vector<std::vector<ExpertRoute>>* source_routes = nullptr);

// The batches translate() forms: [batches][sentences] indices into `lengths`.
std::vector<std::vector<std::size_t>> length_sorted_batches(const std::vector<std::size_t>& lengths,
                                                            const SearchOptions& options);

}  // namespace moe::decode
