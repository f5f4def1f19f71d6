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
  bool truncated = false;         // cut_bytes > 0 or cut_tokens
  std::size_t cut_bytes = 0;      // > 0: the text was cut to its first cut_bytes bytes before encoding
  bool cut_tokens = false;        // the pieces were cut to fit max_input_length
};

// The per-sentence normalisation every corpus source got (lib/data
// clean_pair, docs/corpus.md steps 3 and 5): NFC, then remove_invisible (tab,
// NBSP, U+2007, U+202F -> space; control characters, BOM, soft hyphen, ZWSP,
// U+2060, LRM/RLM removed), then collapse_spaces (runs of ASCII spaces to one,
// none at either end). The corpus's content rules (accelerators, markup,
// placeholders, KDE transcripts) and its drop rules are not applied: they
// would delete text the user wants translated. `text` must be valid UTF-8.
std::string clean_source_text(std::string_view text);

// True when `text` holds nothing but Unicode White_Space characters
// (U+3000, U+2003, ... survive clean_source_text inside a sentence, as in the
// corpus, but a line of them alone has nothing to translate).
bool is_blank(std::string_view text);

// The training-time source format: clean_source_text, then SentencePiece.
// A blank cleaned text gives no pieces ([<2en>] EOS). Text far longer than
// max_input_length pieces can span is cut (at a character boundary) before
// it is cleaned and encoded, so a huge line costs no more than a long one;
// cut_bytes then says so. Throws InputError when the tag is asked for but the
// vocabulary has no "<2en>" piece, or max_input_length leaves no room for a
// piece.
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
  bool truncated = false;                  // the source was cut (see EncodedSource)
  std::size_t cut_bytes = 0;               // EncodedSource::cut_bytes
  bool cut_tokens = false;                 // EncodedSource::cut_tokens
  std::size_t source_length = 0;           // tokens the model read ([<2en>] pieces EOS); 0 for empty input
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
  // InputError (bad options, a beam_size above the vocabulary size, named by
  // field as validate() does). never_generated_ids() are added to the
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

  // texts [N] (valid UTF-8; texts that are empty or blank after
  // clean_source_text translate to an empty hypothesis without running the
  // model). first_index: the index of texts[0] in the whole input, so
  // sampling does not depend on chunking. Returns [N] in input order.
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
