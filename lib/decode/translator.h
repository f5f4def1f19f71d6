#pragma once
// Text-level translation from a checkpoint: load the model and its
// SentencePiece vocabulary, encode sources exactly as training did, batch,
// search, detokenise. moe-translate is a thin loop around Translator.
//
// Ownership: a Translator owns its model, vocabulary and search workspaces;
// it is not thread-safe (one translate() at a time).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/vocab.h"
#include "decode/search.h"
#include "io/checkpoint.h"
#include "model/transformer.h"

namespace moe::decode {

struct SourceFormat {
  bool target_lang_tag = false;  // prepend <2en> (recipe data.target_lang_tag)
  int max_input_length = 256;    // tokens the model sees, tag and EOS included; longer input is cut
};

struct EncodedSource {
  std::vector<std::int32_t> ids;  // [<2en>] pieces EOS, as lib/train/data_loader encodes sources
  bool truncated = false;         // pieces were cut to fit max_input_length
};

// The training-time source format. Text far longer than max_input_length
// pieces can span is cut (at a character boundary) before it is encoded, so
// a huge line costs no more than a long one; truncated then says so. Throws
// InputError when the tag is asked for but the vocabulary has no "<2en>"
// piece, or max_input_length leaves no room for a piece.
EncodedSource encode_source(const data::Vocab& vocab, std::string_view text, const SourceFormat& format);

// The ids a translation never contains: control pieces but EOS (pad, BOS)
// and language tags ("<2en>"), instructions to the model rather than text.
// The Translator puts them in SearchOptions::never_generate.
std::vector<std::int32_t> never_generated_ids(const data::Vocab& vocab);

struct TranslatorOptions {
  std::string model_path;            // run directory (its best, else latest checkpoint) or checkpoint
  SearchOptions search;
  double moe_capacity_factor = 0;    // see inference_config(): 0 = no token is dropped
  int max_input_length = 256;        // see SourceFormat; capped by the model's max_positions
  // The ranks that share the experts (not owned; nullptr = one process holds
  // all). With D > 1 ranks each loads only its E/D experts, and every rank
  // must call translate() with the same texts (the MoE all-to-all is
  // collective): see docs/translate.md.
  Collectives* expert_axis = nullptr;
};

struct TextHypothesis {
  std::string text;                  // detokenised
  std::vector<std::string> pieces;   // SentencePiece pieces, EOS excluded
  double score = 0;                  // length-penalised (ordering)
  double log_prob = 0;               // sum of log-probabilities, EOS included
  // search.report_routing only: [pieces.size() + 1, decoder MoE layers] (see
  // Hypothesis::routes; the last row is EOS's).
  std::vector<ExpertRoute> routes;
};

struct TextTranslation {
  std::vector<TextHypothesis> hypotheses;  // n_best, best first; one empty hypothesis for empty input
  bool truncated = false;                  // the source was cut to max_input_length
  // search.report_routing only, and empty for an empty input: the pieces the
  // model saw ([<2en>] pieces </s>) and their routes [source_pieces.size(),
  // encoder MoE layers].
  std::vector<std::string> source_pieces;
  std::vector<ExpertRoute> source_routes;
};

class Translator {
 public:
  // Throws FileError (missing or foreign checkpoint, unreadable vocabulary, a
  // vocabulary whose fingerprint is not the one the checkpoint records) or
  // InputError (bad options). never_generated_ids() are added to the
  // search's never_generate.
  explicit Translator(const TranslatorOptions& options);
  ~Translator();

  const io::CheckpointInfo& checkpoint() const { return info_; }
  const data::Vocab& vocab() const { return vocab_; }
  Transformer<float>& model() { return *model_; }
  // Tokens a source may have (options' max_input_length capped by max_positions).
  int max_input_length() const { return format_.max_input_length; }
  // Names of the MoE layers ("decoder.layer.1.moe"), the columns of the routes.
  const std::vector<std::string>& encoder_moe_layers() const { return encoder_moe_layers_; }
  const std::vector<std::string>& decoder_moe_layers() const { return decoder_moe_layers_; }

  // texts [N] (valid UTF-8; empty or whitespace-only texts translate to an
  // empty hypothesis without running the model). first_index: the index of
  // texts[0] in the whole input, so sampling does not depend on chunking.
  // Returns [N] in input order.
  std::vector<TextTranslation> translate(const std::vector<std::string>& texts, std::uint64_t first_index = 0);

 private:
  TranslatorOptions options_;
  io::CheckpointInfo info_;
  data::Vocab vocab_;
  std::unique_ptr<Transformer<float>> model_;
  SourceFormat format_;
  std::vector<std::string> encoder_moe_layers_, decoder_moe_layers_;
};

}  // namespace moe::decode
