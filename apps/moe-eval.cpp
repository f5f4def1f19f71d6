// moe-eval: BLEU, chrF/chrF++ and TER with sacreBLEU 2.x's command line,
// numbers and output, plus per-language reports (--langs, --tsv).
// This file only parses flags, calls lib/eval and maps errors to exit codes.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/corpus_io.h"
#include "eval/output.h"
#include "eval/paired_output.h"
#include "eval/significance.h"
#include "eval/statistics.h"
#include "eval/ter.h"
#include "parse_flags.h"
#include "util/error.h"
#include "util/utf8.h"
#include "util/version.h"

namespace {

using moe::InputError;
namespace ev = moe::eval;

// sacreBLEU's exit status for a tab-separated line with the wrong number of
// fields (a -nr reference line, a multi-system stdin line).
constexpr int kExitBadFieldCount = 17;

struct Args {
  std::vector<std::string> refs;
  std::vector<std::string> inputs;
  std::vector<std::string> metrics = {"bleu"};
  std::string tokenize = "13a";
  bool lowercase = false;
  std::string smooth_method = "exp";
  double smooth_value = 0.0;
  bool force = false;
  bool sentence_level = false;
  std::string format = "json";
  int width = 1;
  bool score_only = false;
  bool short_signature = false;
  bool quiet = false;
  int num_refs = 1;
  ev::ChrfOptions chrf;
  ev::TerOptions ter;
  bool confidence = false;
  int confidence_n = 1000;
  bool paired_bs = false;
  bool paired_ar = false;
  int paired_bs_n = ev::kDefaultPairedBootstrapResamples;
  int paired_ar_n = ev::kDefaultApproximateRandomizationTrials;
  int paired_jobs = 1;
  std::string langs_file;
  std::string tsv_file;
};

// sacreBLEU spells several options with one dash and several letters (-tok,
// -lc, ...), which CLI11 cannot declare; they become their long forms here,
// including the "-tok=13a" spelling.
std::vector<std::string> normalize_arguments(int argc, char** argv) {
  static const std::map<std::string, std::string> kAliases = {
      {"-tok", "--tokenize"},        {"-lc", "--lowercase"},
      {"-sh", "--short"},            {"-sl", "--sentence-level"},
      {"-sv", "--smooth-value"},     {"-ci", "--confidence"},
      {"-cin", "--confidence-n"},    {"-pbsn", "--paired-bs-n"},
      {"-parn", "--paired-ar-n"},    {"-cc", "--chrf-char-order"},
      {"-cw", "--chrf-word-order"},  {"-nr", "--num-refs"},
  };
  std::vector<std::string> out;
  bool after_double_dash = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") after_double_dash = true;
    if (!after_double_dash && arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      const std::size_t eq = arg.find('=');
      const auto it = kAliases.find(arg.substr(0, eq));
      if (it != kAliases.end()) arg = it->second + (eq == std::string::npos ? "" : arg.substr(eq));
    }
    out.push_back(arg);
  }
  std::reverse(out.begin(), out.end());  // CLI11's parse(vector) takes arguments in reverse
  return out;
}

void define_options(CLI::App& app, Args& a) {
  app.add_option("refs", a.refs, "reference files (one or more)");
  // A repeated -i or -m replaces the earlier list, as in sacreBLEU (argparse).
  moe::apps::replace_when_repeated(
      app.add_option("-i,--input", a.inputs, "hypothesis file(s); stdin when absent; several = paired test"));
  moe::apps::replace_when_repeated(
      app.add_option("-m,--metrics", a.metrics, "metrics: bleu chrf ter (default: bleu)"));
  app.add_option("--tokenize", a.tokenize, "BLEU tokenizer (-tok): 13a intl zh char none");
  app.add_flag("--lowercase", a.lowercase, "BLEU: lowercase (-lc)");
  app.add_option("-s,--smooth-method", a.smooth_method, "BLEU smoothing: exp floor add-k none");
  app.add_option("--smooth-value", a.smooth_value, "BLEU smoothing value (-sv)");
  app.add_flag("--force", a.force, "no warning for tokenized-looking input");
  app.add_flag("--sentence-level", a.sentence_level, "one score per line (-sl)");
  app.add_option("-f,--format", a.format,
                 "output format: json (default) or text; SACREBLEU_FORMAT overrides it");
  app.add_option("-w,--width", a.width, "decimals of the score (default 1)");
  app.add_flag("-b,--score-only", a.score_only, "print only the score");
  app.add_flag("--short", a.short_signature, "short signature in text output (-sh)");
  app.add_flag("-q,--quiet", a.quiet, "warnings without their \"sacreBLEU: \" prefix");
  app.add_option("--num-refs", a.num_refs, "tab-separated references per line of one file (-nr)");
  app.add_option("--chrf-char-order", a.chrf.char_order, "chrF character order (-cc, default 6)");
  app.add_option("--chrf-word-order", a.chrf.word_order, "chrF word order (-cw; 2 = chrF++)");
  app.add_option("--chrf-beta", a.chrf.beta, "chrF beta (default 2)");
  app.add_flag("--chrf-whitespace", a.chrf.whitespace, "chrF: keep whitespace in character n-grams");
  app.add_flag("--chrf-lowercase", a.chrf.lowercase, "chrF: lowercase");
  app.add_flag("--chrf-eps-smoothing", a.chrf.eps_smoothing, "chrF: eps smoothing (chrF++.py)");
  app.add_flag("--ter-case-sensitive", a.ter.case_sensitive, "TER: keep case");
  app.add_flag("--ter-asian-support", a.ter.asian_support, "TER: split CJK characters");
  app.add_flag("--ter-no-punct", a.ter.no_punct, "TER: remove punctuation");
  app.add_flag("--ter-normalized", a.ter.normalized, "TER: normalize and tokenize punctuation");
  app.add_flag("--confidence", a.confidence, "bootstrap 95% confidence interval (-ci)");
  app.add_option("--confidence-n", a.confidence_n, "bootstrap resamples for -ci (-cin, default 1000)");
  app.add_flag("--paired-bs", a.paired_bs, "paired bootstrap resampling against the first system");
  app.add_flag("--paired-ar", a.paired_ar, "paired approximate randomization against the first system");
  app.add_option("--paired-bs-n", a.paired_bs_n, "paired bootstrap resamples (-pbsn, default 1000)");
  app.add_option("--paired-ar-n", a.paired_ar_n, "approximate randomization trials (-parn, default 10000)");
  app.add_option("-j,--paired-jobs", a.paired_jobs, "accepted for sacreBLEU compatibility (no effect)");
  app.add_option("--langs", a.langs_file, "language code per hypothesis line: per-language table");
  app.add_option("--tsv", a.tsv_file, "test set as lang<TAB>source<TAB>reference lines");
}

struct Inputs {
  std::vector<std::string> system_names;  // as sacreBLEU prints them ("Baseline: base.txt")
  std::vector<std::string> sources;       // the file of each system, for errors
  std::vector<std::vector<std::string>> systems;    // [systems][N]
  std::vector<std::vector<std::string>> references; // [R][N]
  std::vector<std::string> languages;               // N, or empty
};

Inputs read_inputs(const Args& a) {
  Inputs in;
  if (!a.tsv_file.empty()) {
    if (!a.refs.empty()) throw InputError("reference files and --tsv cannot be combined");
    if (!a.langs_file.empty()) throw InputError("--langs and --tsv cannot be combined");
    ev::TsvTestSet set = ev::read_tsv_test_set(a.tsv_file);
    in.references.push_back(std::move(set.references));
    in.languages = std::move(set.languages);
  } else {
    if (a.refs.empty()) throw InputError("no reference file given (or use --tsv)");
    if (a.num_refs < 1) throw InputError("--num-refs must be >= 1");
    if (a.num_refs > 1) {
      if (a.refs.size() != 1) throw InputError("--num-refs needs exactly one reference file");
      in.references = ev::split_reference_fields(ev::read_lines(a.refs[0]), a.num_refs, a.refs[0]);
    } else {
      for (const std::string& path : a.refs) in.references.push_back(ev::read_segments(path));
    }
    if (!a.langs_file.empty()) in.languages = ev::read_language_codes(a.langs_file);
  }
  const bool paired = a.paired_bs || a.paired_ar;
  if (a.inputs.empty()) {
    const std::vector<std::string> lines = ev::read_lines(std::cin, "<stdin>");
    // std::cin reports a failed read (stdin is a directory, ...) only through ferror().
    if (std::ferror(stdin)) {
      throw moe::FileError("<stdin>", 0, std::string("read error: ") + std::strerror(errno));
    }
    // One system per tab-separated field, named as sacreBLEU names them.
    in.systems = ev::split_system_fields(lines, "<stdin>");
    for (std::size_t s = 0; s < in.systems.size(); ++s) {
      const std::size_t number = paired ? s : s + 1;  // paired: "Baseline", "System 1", ...
      in.system_names.push_back(number == 0 ? "Baseline" : "System " + std::to_string(number));
      in.sources.push_back("<stdin>");
    }
  } else {
    for (const std::string& path : a.inputs) {
      // sacreBLEU names systems by their file name, so a repeated name is ambiguous,
      // except the baseline repeated in a paired test, which is skipped.
      if (std::find(in.sources.begin(), in.sources.end(), path) != in.sources.end()) {
        if (!paired || path != in.sources.front()) {
          throw InputError(ev::python_string_repr(path) +
                           " already used to name a system (give each system a different file "
                           "name)");
        }
        if (!a.quiet) {
          std::cerr << "sacreBLEU: Ignoring " << moe::utf8::printable(ev::python_string_repr(path))
                    << " as it was also given as the baseline.\n";
        }
        continue;
      }
      in.sources.push_back(path);
      in.system_names.push_back(path);
      in.systems.push_back(ev::read_segments(path));
    }
    if (paired) in.system_names.front() = "Baseline: " + in.system_names.front();
  }
  return in;
}

// sacreBLEU's checks after reading, in its order: the mode's number of systems,
// then for each system emptiness and its line count against every reference
// stream, then (this toolkit) the --langs codes.
void check_inputs(const Args& a, const Inputs& in) {
  const std::size_t system_count = in.systems.size();
  if (a.sentence_level) {
    if (system_count > 1) {
      throw InputError("Only one system can be evaluated in sentence-level mode.");
    }
    if (a.confidence || a.paired_bs || a.paired_ar) {
      throw InputError(
          "confidence intervals and paired tests are not available in sentence-level mode");
    }
  }
  if ((a.paired_bs || a.paired_ar) && system_count < 2) {
    throw InputError("Paired tests require multiple input systems given to --input (-i).");
  }
  if (system_count > 1 && a.confidence) {
    throw InputError("-ci takes one system; use --paired-bs or --paired-ar for several");
  }
  const std::string reference_source = !a.tsv_file.empty() ? a.tsv_file : a.refs.front();
  for (std::size_t s = 0; s < system_count; ++s) {
    const std::size_t n = in.systems[s].size();
    if (n == 0) {
      throw moe::FileError(in.sources[s], 0, "no hypotheses: the file is empty");
    }
    for (std::size_t r = 0; r < in.references.size(); ++r) {
      if (in.references[r].size() == n) continue;
      const std::string source =
          a.tsv_file.empty() && r < a.refs.size() ? a.refs[r] : reference_source;
      throw InputError("System and reference streams have different lengths: " + in.sources[s] +
                       " has " + std::to_string(n) + " lines, " + source + " has " +
                       std::to_string(in.references[r].size()));
    }
  }
  const std::size_t n = in.systems.front().size();
  if (!in.languages.empty() && in.languages.size() != n) {
    throw InputError(a.langs_file + " has " + std::to_string(in.languages.size()) +
                     " language codes for " + std::to_string(n) + " hypothesis lines");
  }
}

// Which metrics, in sacreBLEU's output order (BLEU, chrF, TER).
struct MetricChoice {
  bool bleu = false, chrf = false, ter = false;
  int count() const { return bleu + chrf + ter; }
};

MetricChoice parse_metrics(const std::vector<std::string>& names) {
  MetricChoice choice;
  for (const std::string& name : names) {
    if (name == "bleu") choice.bleu = true;
    else if (name == "chrf") choice.chrf = true;
    else if (name == "ter") choice.ter = true;
    else throw InputError("unknown metric '" + name + "' (choose from bleu, chrf, ter)");
  }
  return choice;
}

struct Config {
  MetricChoice metrics;
  ev::BleuOptions bleu;
  ev::ChrfOptions chrf;
  ev::TerOptions ter;
  ev::OutputOptions output;
  bool json = true;
  // -ci resamples only for -cin > 1, as sacreBLEU's corpus_score(n_bootstrap).
  bool bootstrap_ci = false;
  // Paired-test resamples or trials; sacreBLEU's PairedTest takes its default for <= 0.
  int paired_samples = 0;
  // SACREBLEU_SEED, read only when something is resampled (as sacreBLEU does).
  ev::SeedSetting seed;
};

Config make_config(const Args& a, bool smooth_value_given) {
  Config c;
  c.metrics = parse_metrics(a.metrics);
  if (a.sentence_level && c.metrics.count() != 1) {
    throw InputError("Only one metric can be used in sentence-level mode.");
  }
  if (a.paired_bs && a.paired_ar) throw InputError("choose one of --paired-bs and --paired-ar");
  c.bleu.tokenizer = ev::parse_tokenizer(a.tokenize);
  c.bleu.lowercase = a.lowercase;
  c.bleu.smooth_method = ev::parse_smooth_method(a.smooth_method);
  if (smooth_value_given) {
    // sacreBLEU takes any float; NaN, infinities and negative values only give
    // nonsense scores (0 is meaningful: floor 0 and add-k 0 behave like none).
    if (!std::isfinite(a.smooth_value) || a.smooth_value < 0) {
      std::ostringstream value;
      value << a.smooth_value;
      throw InputError("--smooth-value must be a finite number >= 0, got " + value.str());
    }
    c.bleu.smooth_value = a.smooth_value;
  }
  c.bleu.effective_order = a.sentence_level;
  c.chrf = a.chrf;
  if (c.chrf.char_order < 0 || c.chrf.word_order < 0 || c.chrf.char_order + c.chrf.word_order == 0) {
    throw InputError("--chrf-char-order and --chrf-word-order must be >= 0, not both 0");
  }
  // n-gram tables are kept per order: an order in the millions would exhaust
  // memory before the first sentence, and no chrF variant goes near 100.
  constexpr int kMaxChrfOrder = 100;
  if (c.chrf.char_order > kMaxChrfOrder || c.chrf.word_order > kMaxChrfOrder) {
    throw InputError("--chrf-char-order and --chrf-word-order must be <= " +
                     std::to_string(kMaxChrfOrder));
  }
  if (c.chrf.beta < 0) throw InputError("--chrf-beta must be >= 0");
  c.ter = a.ter;
  if (a.width < 0 || a.width > 50) throw InputError("--width must be between 0 and 50");
  c.output = {a.width, a.short_signature, a.score_only};
  // sacreBLEU's "latex" is a LaTeX table of several systems (paired tests),
  // which moe-eval does not write; for one system sacreBLEU prints its text.
  const bool paired = a.paired_bs || a.paired_ar;
  std::string format = a.format;
  // As in sacreBLEU's parse_args: SACREBLEU_FORMAT, in any case, overrides -f
  // when it names a format and is ignored otherwise (here also a "latex" that
  // would need the table).
  if (const char* env = std::getenv("SACREBLEU_FORMAT")) {
    std::string value = env;
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (value == "json" || value == "text" || (value == "latex" && !paired)) format = value;
  }
  if (format == "latex") {
    if (paired) throw InputError("format 'latex' (a LaTeX table) is not supported; use json or text");
    format = "text";
  }
  if (format != "json" && format != "text") {
    throw InputError("unknown format '" + format + "' (choose from json, text, latex)");
  }
  c.json = format == "json";
  c.bootstrap_ci = a.confidence && a.confidence_n > 1;
  if (a.paired_bs) {
    c.paired_samples = a.paired_bs_n > 0 ? a.paired_bs_n : ev::kDefaultPairedBootstrapResamples;
  } else if (a.paired_ar) {
    c.paired_samples =
        a.paired_ar_n > 0 ? a.paired_ar_n : ev::kDefaultApproximateRandomizationTrials;
  }
  if (c.bootstrap_ci || a.paired_bs || a.paired_ar) {
    c.seed = ev::parse_seed_setting(std::getenv("SACREBLEU_SEED"));
  }
  return c;
}

// One metric's per-segment statistics for one system, with its signature bits.
struct MetricRun {
  ev::MetricStatistics statistics;
  std::vector<ev::SignatureField> fields;
  std::optional<ev::BleuOptions> bleu;  // set for BLEU, which prints a verbose part
};

std::vector<MetricRun> compute_metrics(const Config& c, const std::vector<std::string>& hyps,
                                       const std::vector<std::vector<std::string>>& refs) {
  std::vector<MetricRun> runs;
  if (c.metrics.bleu) {
    runs.push_back({ev::bleu_statistics(ev::bleu_segment_stats(hyps, refs, c.bleu), c.bleu),
                    ev::bleu_signature_fields(c.bleu), c.bleu});
  }
  if (c.metrics.chrf) {
    runs.push_back({ev::chrf_statistics(ev::chrf_segment_stats(hyps, refs, c.chrf), c.chrf),
                    ev::chrf_signature_fields(c.chrf), std::nullopt});
  }
  if (c.metrics.ter) {
    runs.push_back({ev::ter_statistics(ev::ter_segment_stats(hyps, refs, c.ter)),
                    ev::ter_signature_fields(c.ter), std::nullopt});
  }
  return runs;
}

ev::MetricResult result_of(const MetricRun& run, std::span<const double> sums, int nrefs,
                           const ev::ResamplingSignature& resampling) {
  ev::MetricResult r;
  r.name = run.statistics.name;
  r.signature = ev::make_signature(nrefs, resampling, run.fields);
  if (run.bleu) {
    const ev::BleuScore bleu = ev::bleu_from_stats(ev::bleu_stats_from_sums(sums), *run.bleu);
    r.score = bleu.score;
    r.verbose = bleu.verbose();
  } else {
    r.score = run.statistics.score(sums);
  }
  return r;
}

void warn_if_tokenized(const Config& c, const Args& a, const std::vector<std::string>& hyps) {
  if (!c.metrics.bleu || a.force) return;
  if (ev::count_tokenized_period_lines(hyps) < ev::kTokenizedPeriodWarningLines) return;
  const std::string prefix = a.quiet ? "" : "sacreBLEU: ";
  std::cerr << prefix << "That's 100 lines that end in a tokenized period ('.')\n"
            << prefix << "It looks like you forgot to detokenize your test data, which may hurt your score.\n"
            << prefix << "If you insist your data is detokenized, or don't care, you can suppress this "
                         "message with the `force` parameter.\n";
}

int run_sentence_level(const Config& c, const Inputs& in) {
  const int nrefs = static_cast<int>(in.references.size());
  const std::vector<MetricRun> runs = compute_metrics(c, in.systems[0], in.references);
  const MetricRun& run = runs.front();
  for (std::size_t i = 0; i < run.statistics.table.size(); ++i) {
    const ev::MetricResult r = result_of(run, run.statistics.table.row(i), nrefs, {});
    std::cout << (c.output.score_only ? ev::format_fixed(r.score, c.output.width)
                                      : ev::format_text_line(r, c.output))
              << "\n";
  }
  return 0;
}

int run_paired(const Config& c, const Args& a, const Inputs& in) {
  if (!in.languages.empty()) throw InputError("--langs/--tsv cannot be combined with paired tests");
  const int nrefs = static_cast<int>(in.references.size());
  ev::PairedReport report;
  report.test = a.paired_bs ? ev::PairedTest::kBootstrap : ev::PairedTest::kApproximateRandomization;
  report.samples = c.paired_samples;
  ev::ResamplingSignature resampling;
  (a.paired_bs ? resampling.bootstrap_resamples : resampling.ar_trials) = report.samples;
  resampling.seed = c.seed.paired_text;

  std::vector<std::vector<MetricRun>> per_system;
  std::vector<std::vector<const ev::MetricStatistics*>> statistics;
  for (const auto& hyps : in.systems) {
    warn_if_tokenized(c, a, hyps);
    per_system.push_back(compute_metrics(c, hyps, in.references));
  }
  for (const auto& runs : per_system) {
    statistics.emplace_back();
    for (const MetricRun& run : runs) statistics.back().push_back(&run.statistics);
  }
  for (const MetricRun& run : per_system[0]) {
    report.metric_names.push_back(run.statistics.name);
    report.signatures.push_back(ev::make_signature(nrefs, resampling, run.fields));
  }
  report.systems = ev::compare_with_baseline(report.test, report.samples, in.system_names,
                                             statistics, c.seed.seed);
  std::cout << (c.json ? ev::format_paired_json(report) : ev::format_paired_text(report, c.output));
  return 0;
}

int run_corpus(const Config& c, const Args& a, const Inputs& in) {
  if (in.systems.size() != 1) {
    throw InputError("several systems given; add --paired-bs or --paired-ar to compare them");
  }
  const int nrefs = static_cast<int>(in.references.size());
  warn_if_tokenized(c, a, in.systems[0]);
  const std::vector<MetricRun> runs = compute_metrics(c, in.systems[0], in.references);
  ev::ResamplingSignature resampling;
  if (c.bootstrap_ci) {
    resampling.bootstrap_resamples = a.confidence_n;
    resampling.seed = c.seed.bootstrap_text;
  }
  std::vector<ev::MetricResult> results;
  for (const MetricRun& run : runs) {
    ev::MetricResult r = result_of(run, run.statistics.corpus_sums(), nrefs, resampling);
    if (c.bootstrap_ci) {
      r.confidence = ev::bootstrap_confidence(run.statistics, a.confidence_n, c.seed.seed);
    }
    results.push_back(std::move(r));
  }
  if (in.languages.empty() || c.output.score_only) {
    std::cout << (c.json ? ev::format_json(results, c.output) : ev::format_text(results, c.output));
    return 0;
  }
  std::vector<const ev::MetricStatistics*> statistics;
  for (const MetricRun& run : runs) statistics.push_back(&run.statistics);
  const ev::LanguageReport report = ev::build_language_report(in.languages, statistics);
  std::cout << ev::format_with_language_report(results, report, c.output, c.json);
  return 0;
}

// Scores lost to a full disk must not look like success: flush stdout and turn
// a failed write into an error. Returns the exit status to use.
int check_stdout(int status) {
  errno = 0;
  std::cout.flush();
  const bool failed = !std::cout || std::fflush(stdout) != 0 || std::ferror(stdout);
  if (!failed) return status;
  std::cerr << "moe-eval: error: cannot write standard output"
            << (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string()) << "\n";
  return status == 0 ? 1 : status;
}

int run(const Args& args, bool smooth_value_given) {
  try {
    const Config config = make_config(args, smooth_value_given);
    const Inputs inputs = read_inputs(args);
    check_inputs(args, inputs);
    if (args.sentence_level) return run_sentence_level(config, inputs);
    if (args.paired_bs || args.paired_ar) return run_paired(config, args, inputs);
    return run_corpus(config, args, inputs);
  } catch (const ev::ReferenceFieldCountError& e) {
    std::cerr << "moe-eval: error: " << moe::utf8::printable(e.what()) << "\n";
    return kExitBadFieldCount;
  } catch (const ev::SystemFieldCountError& e) {
    std::cerr << "moe-eval: error: " << moe::utf8::printable(e.what()) << "\n";
    return kExitBadFieldCount;
  } catch (const InputError& e) {
    std::cerr << "moe-eval: error: " << moe::utf8::printable(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    const bool ter = std::find(args.metrics.begin(), args.metrics.end(), "ter") != args.metrics.end();
    std::cerr << "moe-eval: error: out of memory"
              << (ter ? " (TER keeps a hypothesis x reference words table per line, as sacreBLEU "
                        "does: are some lines very long?)"
                      : "")
              << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "moe-eval: internal error: " << moe::utf8::printable(e.what()) << "\n";
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moe-eval: BLEU, chrF and TER as sacreBLEU 2 computes them", "moe-eval"};
  app.set_version_flag("-V,--version", std::string("moe-eval ") + moe::kVersion);
  Args args;
  define_options(app, args);
  std::vector<std::string> arguments = normalize_arguments(argc, argv);
  if (const auto status = moe::apps::parse_flags(app, "moe-eval", arguments)) {
    return *status;  // parse_flags has checked stdout after --help / --version
  }
  return check_stdout(run(args, app.count("--smooth-value") > 0));
}
