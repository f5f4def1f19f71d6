#include "data/vocab_training.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "data/corpus_reader.h"
#include "data/vocab.h"
#include "util/error.h"
#include "util/log.h"
#include "util/rng.h"

namespace moe::data {
namespace {

class VectorSentenceIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentenceIterator(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  std::size_t index_ = 0;
};

std::string format_double(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

}  // namespace

std::vector<std::string> language_tags(const std::vector<std::string>& codes) {
  std::vector<std::string> tags = {"<2en>"};
  for (const auto& code : codes)
    if (code != "en") tags.push_back("<2" + code + ">");
  return tags;
}

bool is_language_tag(std::string_view piece) {
  if (piece.size() < 4 || piece.substr(0, 2) != "<2" || piece.back() != '>') return false;
  return std::all_of(piece.begin() + 2, piece.end() - 1, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::vector<std::string> sample_vocab_sentences(const std::string& corpus_dir, VocabSide side,
                                                const VocabTrainOptions& options) {
  const std::vector<CorpusLanguage> languages = list_corpus_languages(corpus_dir);
  std::vector<std::size_t> counts;
  for (const auto& l : languages) counts.push_back(l.train);
  const std::vector<double> weights = temperature_weights(counts, options.temperature);
  std::vector<std::string> sentences;
  for (std::size_t l = 0; l < languages.size(); ++l) {
    const auto take = static_cast<std::size_t>(std::llround(weights[l] * static_cast<double>(options.sentences)));
    if (take == 0) continue;
    std::vector<Pair> pairs = read_corpus_pairs(corpus_dir, Split::kTrain, languages[l].code);
    if (pairs.empty()) continue;
    // A stream per language: adding a language never changes another's draw.
    Rng rng(options.seed, "vocab-sample:" + languages[l].code);
    std::vector<std::size_t> order(pairs.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t drawn = 0; drawn < take;) {
      // Partial Fisher-Yates: each round yields distinct pairs; further
      // rounds (small languages at high temperature) repeat them.
      for (std::size_t i = 0; i < order.size() && drawn < take; ++i, ++drawn) {
        std::swap(order[i], order[i + rng.below(order.size() - i)]);
        const Pair& pair = pairs[order[i]];
        if (side != VocabSide::kTarget) sentences.push_back(pair.first);
        if (side != VocabSide::kSource) sentences.push_back(pair.second);
      }
    }
  }
  return sentences;
}

void check_model_prefix(const std::string& model_prefix) {
  const std::filesystem::path model(model_prefix + ".model");
  const std::filesystem::path dir = model.has_parent_path() ? model.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw FileError(model.string(), 0,
                    std::filesystem::exists(dir, ec) ? dir.string() + " is not a directory"
                                                     : "the directory " + dir.string() + " does not exist");
  if (std::filesystem::is_directory(model, ec)) throw FileError(model.string(), 0, "is a directory");
}

void train_vocab(const std::vector<std::string>& sentences, const VocabTrainOptions& options,
                 const std::string& model_prefix) {
  check_model_prefix(model_prefix);
  if (sentences.empty()) throw InputError("no training sentences for the vocabulary (empty corpus?)");
  for (const auto& symbol : options.user_defined_symbols)
    if (symbol.find(',') != std::string::npos || symbol.empty())
      throw InputError("user-defined symbol '" + symbol + "' must be non-empty and contain no comma");
  // SentencePiece would log its own error line before failing: say it once, here.
  std::unordered_set<std::string> seen;
  for (const auto& symbol : options.user_defined_symbols)
    if (!seen.insert(symbol).second) throw InputError("user-defined symbol '" + symbol + "' is listed twice");
  if (options.model_type != "unigram" && options.model_type != "bpe")
    throw InputError("model type must be 'unigram' or 'bpe', got '" + options.model_type + "'");
  static const std::vector<std::string> kRules = {"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"};
  if (std::find(kRules.begin(), kRules.end(), options.normalization) == kRules.end())
    throw InputError("normalization must be one of nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf, identity; got '" +
                     options.normalization + "'");
  std::string symbols;
  for (const auto& symbol : options.user_defined_symbols) symbols += (symbols.empty() ? "" : ",") + symbol;
  const std::unordered_map<std::string, std::string> args = {
      {"model_prefix", model_prefix},
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", format_double(options.character_coverage)},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"normalization_rule_name", options.normalization},
      {"user_defined_symbols", symbols},
      {"pad_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"unk_id", "3"},
      // Our sample is already the training set: no second sampling or shuffle.
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", std::to_string(options.threads)},
      {"minloglevel", options.verbose ? "0" : "2"},
  };
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(mix64(options.seed) & 0x7FFFFFFF));
  VectorSentenceIterator iterator(sentences);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &iterator);
  if (!status.ok()) throw InputError("SentencePiece training failed: " + sentencepiece_reason(status.message()));
  log::info("vocabulary " + model_prefix + ".model trained on " + std::to_string(sentences.size()) + " sentences");
}

}  // namespace moe::data
