// moe-tokenize: builds the Debian X->English corpus, trains SentencePiece
// models on it, and encodes/decodes text. The work lives in lib/data; this
// file maps options to its structs and errors to exit codes.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "data/corpus_builder.h"
#include "util/error.h"
#include "util/log.h"

namespace {

// One progress line: redrawn in place on a terminal, plain lines otherwise.
class ProgressLine {
 public:
  ProgressLine() : in_place_(isatty(STDERR_FILENO) != 0) {}
  ~ProgressLine() { finish(); }
  void show(const std::string& message) {
    if (in_place_) {
      std::cerr << "\r\033[K" << message << std::flush;
      shown_ = true;
    } else {
      std::cerr << message << '\n';
    }
  }
  void finish() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  bool in_place_;
  bool shown_ = false;
};

struct CorpusArgs {
  moe::data::CorpusBuildOptions build;
  bool stats = false;
  bool offline = false;
};

int run_corpus(CorpusArgs& args) {
  args.build.download = !args.offline;
  ProgressLine progress;
  const moe::data::CorpusBuildReport report =
      moe::data::build_corpus(args.build, [&](const std::string& message) { progress.show(message); });
  progress.finish();
  if (args.stats) {
    std::cout << moe::data::format_stats_table(report);
  } else {
    std::size_t train = 0, rich = 0;
    for (const auto& l : report.languages) {
      train += l.train;
      if (l.train >= 1000) ++rich;
    }
    std::cerr << "corpus: " << report.languages.size() << " languages (" << rich << " with >= 1000 training pairs), "
              << train << " training pairs in " << args.build.out_dir << " ("
              << static_cast<int>(report.total_seconds + 0.5) << " s)\n";
  }
  return report.languages.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moe-tokenize: the Debian X->English corpus and its SentencePiece vocabulary"};
  app.require_subcommand(1);
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
  corpus_cmd->add_option("--max-dev", corpus.build.split.max_dev_pairs, "dev pairs per language at most")->capture_default_str();
  corpus_cmd->add_option("--max-test", corpus.build.split.max_test_pairs, "test pairs per language at most")->capture_default_str();
  corpus_cmd->add_flag("--offline", corpus.offline, "use only .debs already in the cache");
  corpus_cmd->add_flag("--stats", corpus.stats, "print the per-language table on stdout");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (quiet) moe::log::set_level(moe::log::Level::kQuiet);
  try {
    if (*corpus_cmd) return run_corpus(corpus);
  } catch (const moe::InputError& e) {
    std::cerr << "moe-tokenize: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "moe-tokenize: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
