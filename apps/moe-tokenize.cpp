// moe-tokenize: builds the Debian X->English corpus, trains SentencePiece
// models on it, and encodes/decodes text. The work lives in lib/data; this
// file maps options to its structs and errors to exit codes.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>

#include "data/corpus_builder.h"
#include "data/corpus_reader.h"
#include "data/line_codec.h"
#include "data/vocab.h"
#include "data/vocab_training.h"
#include "parse_flags.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/version.h"

namespace {

// CLI::Range passes NaN (every comparison with it is false): floats get this.
CLI::Validator finite_range(double min, double max) {
  std::ostringstream bounds;
  bounds << min << " to " << max;
  return CLI::Validator(
      [min, max, range = bounds.str()](std::string& input) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(input.c_str(), &end);
        if (input.empty() || *end != '\0' || !(value >= min && value <= max))
          return "Value " + input + " not in range " + range;
        return {};
      },
      "FLOAT in [" + bounds.str() + "]");
}

// One progress line: redrawn in place on a terminal; in a log, plain lines,
// at most one every few seconds per phase ("download", "extract", "split").
class ProgressLine {
 public:
  ProgressLine() : in_place_(isatty(STDERR_FILENO) != 0) {}
  ~ProgressLine() { finish(); }
  void show(const std::string& message) {
    if (in_place_) {
      std::cerr << "\r\033[K" << message << std::flush;
      shown_ = true;
      return;
    }
    const std::string phase = message.substr(0, message.find(' '));
    const auto now = std::chrono::steady_clock::now();
    if (phase == last_phase_ && now - last_line_ < std::chrono::seconds(5)) return;
    std::cerr << message << '\n';
    last_phase_ = phase;
    last_line_ = now;
  }
  void finish() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  bool in_place_;
  bool shown_ = false;
  std::string last_phase_;
  std::chrono::steady_clock::time_point last_line_;
};

struct CorpusArgs {
  moe::data::CorpusBuildOptions build;
  bool stats = false;
  bool offline = false;
};

int run_corpus(CorpusArgs& args) {
  args.build.download = !args.offline;
  ProgressLine progress;
  const bool quiet = moe::log::level() == moe::log::Level::kQuiet;
  const moe::data::CorpusBuildReport report = moe::data::build_corpus(args.build, [&](const std::string& message) {
    if (!quiet) progress.show(message);
  });
  progress.finish();
  if (args.stats) {
    std::cout << moe::data::format_stats_table(report);
  } else if (moe::log::level() != moe::log::Level::kQuiet) {
    std::size_t train = 0, rich = 0;
    for (const auto& l : report.languages) {
      train += l.train;
      if (l.train >= 1000) ++rich;
    }
    std::cerr << "corpus: " << report.languages.size() << " languages (" << rich << " with >= 1000 training pairs), "
              << train << " training pairs in " << args.build.out_dir << " ("
              << static_cast<int>(report.total_seconds + 0.5) << " s)\n";
  }
  return 0;
}

struct TrainArgs {
  moe::data::VocabTrainOptions vocab;
  std::string corpus_dir;
  std::string model_prefix;
  bool separate = false;
  bool language_tags = true;
};

int run_train(const TrainArgs& args) {
  using moe::data::VocabSide;
  std::vector<std::string> codes;
  for (const auto& language : moe::data::list_corpus_languages(args.corpus_dir)) codes.push_back(language.code);
  if (codes.empty()) throw moe::FileError(args.corpus_dir, 0, "the corpus has no languages");
  moe::data::check_model_prefix(args.separate ? args.model_prefix + ".source" : args.model_prefix);
  const std::vector<std::string>& extra = args.vocab.user_defined_symbols;
  // Checked before the (slow) sampling, and with the flag's name: SentencePiece
  // itself would fail only after it, with a log line of its own.
  const std::vector<std::string> corpus_tags =
      args.language_tags ? moe::data::language_tags(codes) : std::vector<std::string>{};
  for (auto symbol = extra.begin(); symbol != extra.end(); ++symbol) {
    if (std::find(corpus_tags.begin(), corpus_tags.end(), *symbol) != corpus_tags.end())
      throw moe::InputError("--user-symbols: '" + *symbol +
                            "' is already a language tag of the corpus (added unless --no-language-tags)");
    if (std::find(extra.begin(), symbol, *symbol) != symbol)
      throw moe::InputError("--user-symbols: '" + *symbol + "' is given twice");
  }
  auto with_symbols = [&](std::vector<std::string> tags) {
    moe::data::VocabTrainOptions options = args.vocab;
    options.user_defined_symbols = args.language_tags ? std::move(tags) : std::vector<std::string>{};
    options.user_defined_symbols.insert(options.user_defined_symbols.end(), extra.begin(), extra.end());
    return options;
  };
  if (!args.separate) {
    const auto options = with_symbols(moe::data::language_tags(codes));
    moe::data::train_vocab(moe::data::sample_vocab_sentences(args.corpus_dir, VocabSide::kShared, options), options,
                           args.model_prefix);
    return 0;
  }
  // GShard's split: a multilingual source vocabulary and an English target
  // one, which needs only the <2en> tag.
  const auto source = with_symbols(moe::data::language_tags(codes));
  moe::data::train_vocab(moe::data::sample_vocab_sentences(args.corpus_dir, VocabSide::kSource, source), source,
                         args.model_prefix + ".source");
  const auto target = with_symbols(moe::data::language_tags({}));
  moe::data::train_vocab(moe::data::sample_vocab_sentences(args.corpus_dir, VocabSide::kTarget, target), target,
                         args.model_prefix + ".target");
  return 0;
}

struct CodecArgs {
  std::string model, target_model;
  std::vector<int> columns;
  bool ids = false;
  int threads = 2;
};

int run_codec(const CodecArgs& args, bool encode) {
  const moe::data::Vocab vocab = moe::data::Vocab::load(args.model);
  std::unique_ptr<moe::data::Vocab> target;
  if (!args.target_model.empty()) target = std::make_unique<moe::data::Vocab>(moe::data::Vocab::load(args.target_model));
  moe::data::LineCodec codec;
  codec.vocab = &vocab;
  codec.last_vocab = target.get();
  codec.columns = args.columns;
  codec.format = args.ids ? moe::data::TokenFormat::kIds : moe::data::TokenFormat::kPieces;
  struct stat input;
  if (fstat(STDIN_FILENO, &input) != 0)  // closed (0<&-): reading it would look like empty input
    throw moe::FileError("<stdin>", 0, std::string("read error: ") + std::strerror(errno));
  if (S_ISDIR(input.st_mode)) throw moe::FileError("<stdin>", 0, "cannot read input: is a directory");
  std::ios::sync_with_stdio(false);
  moe::data::transform_lines(std::cin, std::cout, args.threads, "<stdin>", [&](std::string_view line) {
    return encode ? moe::data::encode_line(line, codec) : moe::data::decode_line(line, codec);
  });
  std::cout.flush();
  if (!std::cout) throw moe::FileError("<stdout>", 0, "write failed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moe-tokenize: the Debian X->English corpus and its SentencePiece vocabulary", "moe-tokenize"};
  app.set_version_flag("-V,--version", std::string("moe-tokenize ") + moe::kVersion);
  app.require_subcommand(1);
  app.fallthrough();  // -q may follow the subcommand
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");

  CorpusArgs corpus;
  corpus.build.package_list = "data/packages-core.txt";
  corpus.build.cache_dir = "cache/corpus";
  CLI::App* corpus_cmd = app.add_subcommand(
      "corpus", "download Debian packages (apt-get download), extract their catalogs, write OUT/{train,dev,test}/<lang>.tsv");
  corpus_cmd->add_option("-o,--out", corpus.build.out_dir, "output directory")->required();
  corpus_cmd->add_option("-l,--packages", corpus.build.package_list,
                         "package list, one name a line (data/packages-core.txt or data/packages-full.txt)")
      ->capture_default_str()
      ->check(CLI::ExistingFile);
  corpus_cmd->add_option("-c,--cache", corpus.build.cache_dir, "download and parse cache")->capture_default_str();
  corpus_cmd->add_option("-j,--threads", corpus.build.threads, "extraction threads")->capture_default_str()->check(CLI::Range(1, 256));
  // Unsigned fields: without a range CLI11 would read -1 as 2^64 - 1.
  corpus_cmd->add_option("--max-dev", corpus.build.split.max_dev_pairs, "dev pairs per language at most")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  corpus_cmd->add_option("--max-test", corpus.build.split.max_test_pairs, "test pairs per language at most")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  corpus_cmd->add_flag("--offline", corpus.offline, "use only .debs already in the cache");
  corpus_cmd->add_flag("--stats", corpus.stats, "print the per-language table on stdout");

  TrainArgs train;
  CLI::App* train_cmd = app.add_subcommand(
      "train", "train a SentencePiece model on a corpus's training split, languages sampled with temperature T");
  train_cmd->add_option("--corpus", train.corpus_dir, "corpus directory written by 'moe-tokenize corpus'")
      ->required()
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("-o,--model", train.model_prefix,
                        "output prefix: PREFIX.model/.vocab (PREFIX.source.* and PREFIX.target.* with --separate)")
      ->required();
  train_cmd->add_option("--type", train.vocab.model_type, "unigram or bpe")
      ->capture_default_str()
      ->check(CLI::IsMember({"unigram", "bpe"}));
  train_cmd->add_option("--vocab-size", train.vocab.vocab_size, "pieces (V)")->capture_default_str()->check(CLI::Range(8, 1 << 20));
  train_cmd->add_option("--character-coverage", train.vocab.character_coverage, "share of characters covered")
      ->capture_default_str()
      ->check(finite_range(0.9, 1.0));
  train_cmd->add_option("--normalization", train.vocab.normalization,
                        "SentencePiece normalization rule (identity: decoding restores the text exactly)")
      ->capture_default_str()
      ->check(CLI::IsMember({"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"}));
  train_cmd->add_flag("--byte-fallback", train.vocab.byte_fallback, "spell uncovered characters as byte pieces");
  train_cmd->add_option("--user-symbols", train.vocab.user_defined_symbols, "extra single-piece symbols")->delimiter(',');
  train_cmd->add_flag("!--no-language-tags", train.language_tags, "do not add <2en> and <2xx> tags as symbols");
  train_cmd->add_option("--seed", train.vocab.seed, "sampling seed")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()));
  train_cmd->add_option("-T,--temperature", train.vocab.temperature, "language sampling temperature")
      ->capture_default_str()
      ->check(finite_range(1.0, 1000.0));
  // 100M pairs is already some 10 GB of text in memory.
  train_cmd->add_option("--sentences", train.vocab.sentences, "pairs sampled per model")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  train_cmd->add_option("-j,--threads", train.vocab.threads, "SentencePiece threads")->capture_default_str()->check(CLI::Range(1, 128));
  train_cmd->add_flag("--separate", train.separate, "a source model and an English target model instead of one shared model");
  train_cmd->add_flag("-v,--verbose", train.vocab.verbose, "SentencePiece's own log");

  CodecArgs codec;
  CLI::App* encode_cmd = app.add_subcommand("encode", "text to pieces (or ids), stdin to stdout, TSV-aware");
  CLI::App* decode_cmd = app.add_subcommand("decode", "pieces (or ids) to text, stdin to stdout, TSV-aware");
  for (CLI::App* cmd : {encode_cmd, decode_cmd}) {
    cmd->add_option("-m,--model", codec.model, "SentencePiece .model")->required()->check(CLI::ExistingFile);
    cmd->add_option("--target-model", codec.target_model, "model for the last chosen column (separate English vocabulary)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--columns", codec.columns, "1-based TSV columns to transform (default: all)")
        ->delimiter(',')
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_flag("--ids", codec.ids, "ids instead of pieces");
    cmd->add_option("-j,--threads", codec.threads, "threads")->capture_default_str()->check(CLI::Range(1, 256));
  }

  if (const auto status = moe::apps::parse_flags(app, "moe-tokenize", argc, argv)) return *status;
  if (quiet) moe::log::set_level(moe::log::Level::kQuiet);
  try {
    if (*corpus_cmd) return run_corpus(corpus);
    if (*train_cmd) return run_train(train);
    if (*encode_cmd) return run_codec(codec, /*encode=*/true);
    if (*decode_cmd) return run_codec(codec, /*encode=*/false);
  } catch (const moe::InputError& e) {
    std::cerr << "moe-tokenize: error: " << moe::utf8::printable(e.what()) << '\n';
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that cannot be created or read (OUT under a regular file, ...).
    const std::string path = e.path1().empty() ? std::string() : e.path1().string() + ": ";
    std::cerr << "moe-tokenize: error: " << moe::utf8::printable(path + e.code().message()) << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "moe-tokenize: internal error: " << moe::utf8::printable(e.what()) << '\n';
    return 2;
  }
  return 0;
}
