#include "decode/translator.h"

#include <algorithm>

#include "data/nfc.h"
#include "data/text_clean.h"
#include "data/vocab_training.h"
#include "decode/translate.h"
#include "io/tensor_set.h"
#include "util/error.h"
#include "util/utf8.h"

namespace moe::decode {

std::string clean_source_text(std::string_view text) {
  return data::collapse_spaces(data::remove_invisible(data::normalize_nfc(text)));
}

bool is_blank(std::string_view text) {
  for (char32_t cp : utf8::decode(text)) {
    // Unicode 14 White_Space (PropList.txt): 25 code points.
    const bool white = (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
                       (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
                       cp == 0x205F || cp == 0x3000;
    if (!white) return false;
  }
  return true;
}

EncodedSource encode_source(const data::Vocab& vocab, std::string_view text, const SourceFormat& format) {
  EncodedSource out;
  std::int32_t tag = -1;
  if (format.target_lang_tag) {
    tag = vocab.piece_to_id("<2en>");
    if (tag == data::Vocab::kUnkId)
      throw InputError("data.target_lang_tag: the vocabulary has no '<2en>' piece");
  }
  const int room = format.max_input_length - 1 - (tag >= 0 ? 1 : 0);
  if (room < 1)
    throw InputError("max input length " + std::to_string(format.max_input_length) +
                     " leaves no room for a source token");
  // Cleaned as the corpus's sources were: otherwise an NFD letter, a BOM, a
  // tab or an NBSP reaches the model as pieces (often <unk>) it never saw.
  // The cleaning is linear in the line; it comes first so that whitespace and
  // invisible characters count for nothing in the budget below.
  std::string cleaned = clean_source_text(text);
  // SentencePiece's cost grows with the whole text (quadratically over a run
  // of characters it does not know), so a huge line would take minutes before
  // the cut by pieces below. `room` pieces span at most about room x the
  // longest piece's bytes (a piece covers at least one character); twice that
  // leaves slack. So cut the cleaned text there first, at a UTF-8 boundary:
  // only sources that are cut anyway lose text (or, rarely, one with a run of
  // unknown characters longer than the budget, which is a single <unk>
  // piece); all are reported as truncated.
  const std::size_t budget =
      2 * (static_cast<std::size_t>(room) + 1) * std::max<std::size_t>(vocab.longest_piece_bytes(), 4);
  if (cleaned.size() > budget) {
    std::size_t end = budget;
    while (end > 0 && (static_cast<unsigned char>(cleaned[end]) & 0xC0) == 0x80) --end;  // not inside a character
    cleaned.resize(end);
    out.cut_bytes = end;
  }
  const std::vector<int> pieces = is_blank(cleaned) ? std::vector<int>{} : vocab.encode_ids(cleaned);
  const std::size_t kept = std::min(pieces.size(), static_cast<std::size_t>(room));
  out.cut_tokens = kept < pieces.size();
  out.truncated = out.cut_bytes > 0 || out.cut_tokens;
  out.ids.reserve(kept + 2);
  if (tag >= 0) out.ids.push_back(tag);
  out.ids.insert(out.ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(kept));
  out.ids.push_back(data::Vocab::kEosId);
  return out;
}

std::vector<std::int32_t> never_generated_ids(const data::Vocab& vocab) {
  std::vector<std::int32_t> ids;
  for (int id = 0; id < vocab.size(); ++id)
    if (id != data::Vocab::kEosId && (vocab.is_control(id) || data::is_language_tag(vocab.id_to_piece(id))))
      ids.push_back(id);
  return ids;
}

namespace {

io::CheckpointInfo read_info(const std::string& path) {
  return io::read_checkpoint_info(io::resolve_checkpoint(path, /*prefer_best=*/true));
}

}  // namespace

Translator::Translator(const TranslatorOptions& options)
    : options_(options), info_(read_info(options.model_path)), vocab_(data::Vocab::load(info_.vocab_path)) {
  // An empty fingerprint: a checkpoint written without one (nothing to check).
  if (!info_.vocab_fingerprint.empty()) {
    const std::string fingerprint = data::vocab_fingerprint(info_.vocab_path);
    if (fingerprint != info_.vocab_fingerprint)
      throw FileError(info_.vocab_path, 0,
                      "not the vocabulary this checkpoint was trained with (fingerprint " + fingerprint +
                          ", the checkpoint records " + info_.vocab_fingerprint + ")");
  }
  for (std::int32_t id : never_generated_ids(vocab_)) options_.search.never_generate.push_back(id);
  validate(options_.search);
  // Checked before the weights load (the Searcher checks it again at its first batch).
  if (options_.search.beam_size > vocab_.size())
    throw InputError("beam_size: must be at most the vocabulary size (" + std::to_string(vocab_.size()) +
                     "), got " + std::to_string(options_.search.beam_size));
  const ModelConfig cfg = inference_config(info_.recipe.model, options_.moe_capacity_factor);
  if (vocab_.size() != cfg.vocab)
    throw FileError(info_.vocab_path, 0,
                    "vocabulary has " + std::to_string(vocab_.size()) + " pieces but the model expects " +
                        std::to_string(cfg.vocab));
  model_ = std::make_unique<Transformer<float>>(cfg, /*seed=*/0, options_.expert_axis, Gradients::kNone);
  for (const auto& [name, layer] : model_->moe_layers(false)) encoder_moe_layers_.push_back(name);
  for (const auto& [name, layer] : model_->moe_layers(true)) decoder_moe_layers_.push_back(name);
  io::load_checkpoint_tensors(info_.dir, "weights", io::weight_tensors(model_->weights(), cfg.moe.num_experts));
  format_.target_lang_tag = info_.recipe.data.target_lang_tag;
  format_.max_input_length = std::min(options_.max_input_length, cfg.max_positions);
}

Translator::~Translator() = default;

std::vector<TextTranslation> Translator::translate(const std::vector<std::string>& texts,
                                                   std::uint64_t first_index) {
  std::vector<TextTranslation> out(texts.size());
  std::vector<std::vector<std::int32_t>> sources;
  std::vector<std::size_t> source_of;  // index into texts of each source
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!utf8::is_valid(texts[i]))
      throw InputError("input " + std::to_string(first_index + i + 1) + ": invalid UTF-8");
    EncodedSource e = encode_source(vocab_, texts[i], format_);
    out[i].truncated = e.truncated;
    out[i].cut_bytes = e.cut_bytes;
    out[i].cut_tokens = e.cut_tokens;
    const std::size_t overhead = format_.target_lang_tag ? 2 : 1;
    if (e.ids.size() <= overhead) {  // blank once cleaned: nothing to translate
      out[i].hypotheses.emplace_back();
      continue;
    }
    out[i].source_length = e.ids.size();
    sources.push_back(std::move(e.ids));
    source_of.push_back(i);
  }
  // Streams keyed by the input index keep sampling independent of which
  // texts were empty and of how the input was chunked.
  std::vector<std::uint64_t> streams(sources.size());
  for (std::size_t j = 0; j < sources.size(); ++j) streams[j] = first_index + source_of[j];
  std::vector<std::vector<ExpertRoute>> source_routes;
  std::vector<std::vector<Hypothesis>> found =
      decode::translate(*model_, sources, options_.search, streams, &source_routes);
  for (std::size_t j = 0; j < sources.size(); ++j) {
    TextTranslation& t = out[source_of[j]];
    if (options_.search.report_routing) {
      for (std::int32_t id : sources[j]) t.source_pieces.push_back(vocab_.id_to_piece(id));
      t.source_routes = std::move(source_routes[j]);
    }
    for (Hypothesis& h : found[j]) {
      TextHypothesis th;
      std::vector<int> ids(h.tokens.begin(), h.tokens.end());
      th.text = vocab_.decode_ids(ids);
      for (int id : ids) th.pieces.push_back(vocab_.id_to_piece(id));
      th.score = h.score;
      th.log_prob = h.log_prob;
      th.routes = std::move(h.routes);
      t.hypotheses.push_back(std::move(th));
    }
  }
  return out;
}

}  // namespace moe::decode
