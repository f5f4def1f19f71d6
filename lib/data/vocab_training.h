#pragma once
// Training the SentencePiece vocabulary over a corpus directory's training
// split, each language's share set by GShard's temperature sampling. The
// sampled sentence set is a pure function of (corpus, options), and
// SentencePiece then runs without its own sampling or shuffling, so one seed
// always gives the same .model.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe::data {

struct VocabTrainOptions {
  std::string model_type = "unigram";  // or "bpe"
  int vocab_size = 32000;              // V
  double character_coverage = 0.9995;  // SentencePiece's: share of characters the pieces must cover
  // SentencePiece's normalization rule: "nmt_nfkc" (its default: NFKC plus
  // whitespace/control clean-up; lossy, e.g. "…" decodes as "..."), "nfkc",
  // "identity" (decode gives back the corpus text exactly), or the _cf variants.
  std::string normalization = "nmt_nfkc";
  bool byte_fallback = false;          // spell out uncovered characters as <0xNN> pieces instead of <unk>
  std::vector<std::string> user_defined_symbols;  // always single pieces (language tags)
  std::uint64_t seed = 1;
  double temperature = 5.0;  // p_l proportional to n_l^(1/T)
  // Pairs sampled for one model (both sides of each for a shared model):
  // 300k pairs train a 32k unigram model on 2 cores in a minute or two.
  std::size_t sentences = 300000;
  int threads = 2;
  bool verbose = false;  // SentencePiece's own progress log on stderr
};

// Which text a model is trained on: both sides of the pairs (one shared
// model, the default), or only the source / only the English side.
enum class VocabSide { kShared, kSource, kTarget };

// "<2en>" (the target tag) and "<2xx>" for each source code: the tags the
// model's inputs carry, so each must be one piece.
std::vector<std::string> language_tags(const std::vector<std::string>& codes);
// True for a piece of language_tags()'s form, "<2" + code + ">" (code: ASCII
// letters, digits and '-'): an instruction to the model, never text.
bool is_language_tag(std::string_view piece);

// The sentences of one model: for each language l, round(p_l * sentences)
// pairs of the train split (drawn without replacement while they last, whole
// copies beyond), both sides for kShared (so `sentences` pairs give twice as
// many lines). Deterministic for options.seed.
std::vector<std::string> sample_vocab_sentences(const std::string& corpus_dir, VocabSide side,
                                                const VocabTrainOptions& options);

// Throws FileError when PREFIX.model could not be written (its directory is
// missing): checked by train_vocab, and worth checking before the sampling.
void check_model_prefix(const std::string& model_prefix);

// Trains on `sentences` and writes `model_prefix`.model and .vocab with
// pad=0 bos=1 eos=2 unk=3. Throws InputError for a user-defined symbol that
// is empty, has a comma or is listed twice, and with SentencePiece's message
// on other bad options (for example a vocabulary larger than the data allows).
void train_vocab(const std::vector<std::string>& sentences, const VocabTrainOptions& options,
                 const std::string& model_prefix);

}  // namespace moe::data
