// moe-translate: translates raw text with a trained checkpoint (beam search,
// greedy or sampling; docs/translate.md). Reads one sentence a line (or
// lang<TAB>source lines with --tsv) in chunks, translates each chunk with
// lib/decode's Translator and writes it before reading on, so output streams.
// This file parses flags, formats output and maps errors to exit codes.
//
// Under mpirun (docs/translate.md) the experts are sharded over all ranks:
// each rank loads E/N experts, rank 0 reads the input and sends every chunk
// to all ranks, every rank decodes the same batches (the MoE all-to-alls keep
// them in lockstep), and rank 0 alone writes the output.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "decode/translator.h"
#include "mesh/mesh.h"
#include "mesh/run_on_mesh.h"
#include "parse_flags.h"
#include "tensor/gemm.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/utf8.h"
#include "util/version.h"

namespace {

using moe::FileError;
using moe::InputError;
namespace dec = moe::decode;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// Cut sources named one by one on stderr before they are only counted.
constexpr std::size_t kTruncationLinesShown = 5;

struct Args {
  std::string model;
  std::string input = "-";
  std::string output = "-";
  bool tsv = false;
  std::string sampling;
  std::string output_format = "text";
  int threads = 0;
  bool quiet = false;
  bool report_routing = false;
  dec::TranslatorOptions translator;
};

void define_options(CLI::App& app, Args& a) {
  dec::SearchOptions& s = a.translator.search;
  app.add_option("-m,--model", a.model, "run directory (its best, else latest checkpoint) or checkpoint directory")
      ->required();
  app.add_option("-i,--input", a.input, "input text, one sentence a line (default: stdin)");
  app.add_option("-o,--output", a.output, "output file (default: stdout)");
  app.add_flag("--tsv", a.tsv, "input lines are lang<TAB>source[<TAB>...]: the second column is translated");
  app.add_option("-b,--beam-size", s.beam_size, "beam size K (1 = greedy; with --sampling: samples per sentence)")
      ->capture_default_str();
  app.add_option("--alpha", s.alpha, "length-penalty exponent: score = log P / ((5+|Y|)/6)^alpha")
      ->capture_default_str();
  app.add_flag("--normalize", s.normalize, "Marian's normalisation instead: score = log P / |Y|^alpha");
  app.add_option("--max-length-a", s.max_length_a, "max target tokens = a * source tokens + b")->capture_default_str();
  app.add_option("--max-length-b", s.max_length_b, "see --max-length-a")->capture_default_str();
  app.add_option("--min-length", s.min_length, "no end of sentence before this many target tokens")
      ->capture_default_str();
  app.add_option("-n,--n-best", s.n_best, "hypotheses per sentence (<= beam size; text: Marian's n-best format)")
      ->capture_default_str();
  app.add_option("--sampling", a.sampling, "sample instead of beam search: topk:K, temperature:T or both, comma-separated");
  app.add_option("--seed", s.seed, "seed of the sampling streams")->capture_default_str()->check(moe::apps::kUnsigned64);
  app.add_option("--mini-batch", s.mini_batch, "sentences per batch (sorted by length)")->capture_default_str();
  app.add_option("--max-batch-tokens", s.max_batch_tokens, "padded source tokens per batch (0 = no limit)")
      ->capture_default_str();
  app.add_option("--max-input-length", a.translator.max_input_length,
                 "longer sources are cut to this many tokens (with a warning)")
      ->capture_default_str();
  app.add_option("--moe-capacity-factor", a.translator.moe_capacity_factor,
                 "expert capacity at inference, C = ceil(S*F/E); 0 = no token is ever dropped")
      ->capture_default_str();
  app.add_option("--output-format", a.output_format, "text or json (one object per input line)")->capture_default_str();
  app.add_flag("--report-routing", a.report_routing,
               "json: each hypothesis's expert ids per target token and decoder MoE layer, and the source's");
  app.add_option("--threads", a.threads, "compute threads (0 = OpenMP's default)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_flag("-q,--quiet", a.quiet, "no progress line on stderr");
}

// One progress line on stderr: redrawn in place on a terminal, a plain line
// every few seconds otherwise.
class Progress {
 public:
  // total: the input's line count, when it could be counted beforehand.
  Progress(bool enabled, std::optional<std::size_t> total)
      : enabled_(enabled), total_(total), in_place_(isatty(STDERR_FILENO) != 0), start_(Clock::now()),
        last_(start_) {}
  void update(std::size_t done, std::size_t target_tokens, bool final) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!final && since < (in_place_ ? 0.5 : 5.0)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    char line[256];
    if (final) {
      std::snprintf(line, sizeof line, "moe-translate: %zu sentences in %s (%.1f sentences/s, %.0f target tokens/s)",
                    done, duration(elapsed).c_str(), rate,
                    elapsed > 0 ? static_cast<double>(target_tokens) / elapsed : 0.0);
    } else if (!total_) {
      std::snprintf(line, sizeof line, "moe-translate: %zu sentences, %.1f sentences/s", done, rate);
    } else {
      const std::size_t total = *total_;
      const double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
      std::snprintf(line, sizeof line, "moe-translate: %zu/%zu sentences (%.0f%%), %.1f sentences/s, ETA %s", done,
                    total, total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0, rate,
                    duration(eta).c_str());
    }
    if (in_place_)
      std::cerr << "\r\033[K" << line << (final ? "\n" : "") << std::flush;
    else
      std::cerr << line << "\n";
  }

 private:
  static std::string duration(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else
      std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    return buf;
  }
  bool enabled_;
  std::optional<std::size_t> total_;
  bool in_place_;
  Clock::time_point start_, last_;
};

std::size_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 20);
  std::size_t lines = 0;
  char last = '\n';
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize got = in.gcount();
    for (std::streamsize i = 0; i < got; ++i) lines += buf[static_cast<std::size_t>(i)] == '\n';
    if (got > 0) last = buf[static_cast<std::size_t>(got - 1)];
  }
  return lines + (last != '\n');
}

// The text to translate from one input line; throws FileError naming the line.
std::string source_text(std::string line, bool tsv, const std::string& name, std::size_t number) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (!tsv) {
    if (!moe::utf8::is_valid(line)) throw FileError(name, static_cast<long>(number), "invalid UTF-8");
    return line;
  }
  // A blank line is a blank source, with or without --tsv.
  if (line.find_first_not_of(' ') == std::string::npos) return "";
  const std::size_t tab = line.find('\t');
  if (tab == std::string::npos)
    throw FileError(name, static_cast<long>(number), "expected lang<TAB>source (--tsv), found no tab");
  const std::size_t end = line.find('\t', tab + 1);
  // Only the columns read are checked: a reference column is ignored, bytes and all.
  line.resize(end == std::string::npos ? line.size() : end);
  if (!moe::utf8::is_valid(line)) throw FileError(name, static_cast<long>(number), "invalid UTF-8");
  return line.substr(tab + 1);
}

std::string fixed6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

// {"<layer>": {"experts": [[e1, e2], ...], "weights": [[w1, w2], ...]}, ...}:
// routes [rows, layers.size()] as one object per layer, one pair per row.
nlohmann::json routing_json(const std::vector<std::string>& layers, const std::vector<dec::ExpertRoute>& routes) {
  nlohmann::json j = nlohmann::json::object();
  const std::size_t W = layers.size();
  for (std::size_t l = 0; l < W; ++l) {
    nlohmann::json experts = nlohmann::json::array(), weights = nlohmann::json::array();
    for (std::size_t i = l; i < routes.size(); i += W) {
      experts.push_back({routes[i].expert[0], routes[i].expert[1]});
      weights.push_back({routes[i].weight[0], routes[i].weight[1]});
    }
    j[layers[l]] = {{"experts", std::move(experts)}, {"weights", std::move(weights)}};
  }
  return j;
}

void write_translation(std::ostream& out, const std::string& format, int n_best, std::size_t index,
                       const std::string& source, const dec::TextTranslation& t, const dec::Translator* routing) {
  if (format == "json") {
    auto hyp_json = [&](const dec::TextHypothesis& h) {
      nlohmann::json j{{"hypothesis", h.text}, {"score", h.score}, {"log_prob", h.log_prob}, {"tokens", h.pieces}};
      if (routing) j["routing"] = routing_json(routing->decoder_moe_layers(), h.routes);
      return j;
    };
    nlohmann::json j = hyp_json(t.hypotheses.front());
    j["line"] = index + 1;
    j["source"] = source;
    if (t.truncated) j["truncated"] = true;
    if (routing) {
      j["source_tokens"] = t.source_pieces;
      j["source_routing"] = routing_json(routing->encoder_moe_layers(), t.source_routes);
    }
    if (n_best > 1) {
      j["n_best"] = nlohmann::json::array();
      for (const auto& h : t.hypotheses) j["n_best"].push_back(hyp_json(h));
    }
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else if (n_best > 1) {
    // Marian's n-best lines: sentence (0-based) ||| text ||| F0= model score ||| final score.
    for (const auto& h : t.hypotheses)
      out << index << " ||| " << h.text << " ||| F0= " << fixed6(h.log_prob) << " ||| " << fixed6(h.score) << '\n';
  } else {
    out << t.hypotheses.front().text << '\n';
  }
}

// validate()'s and the Translator's messages name SearchOptions fields
// ("beam_size: ..."); the user knows the flags.
InputError with_flag_names(const InputError& e) {
  std::string msg = e.what();
  for (const auto& [field, flag] : std::vector<std::pair<std::string, std::string>>{
           {"beam_size", "--beam-size"}, {"alpha", "--alpha"}, {"max_length_a", "--max-length-a"},
           {"max_length_b", "--max-length-b"}, {"min_length", "--min-length"}, {"n_best", "--n-best"},
           {"mini_batch", "--mini-batch"}, {"max_batch_tokens", "--max-batch-tokens"}, {"sampling ", "--sampling "}})
    if (msg.rfind(field, 0) == 0) return InputError(flag + msg.substr(field.size()));
  return e;
}

// Why a source was cut, for the warning naming its line: the token limit is
// --max-input-length or, when that is larger, the model's max_positions.
std::string cut_reason(const dec::TextTranslation& t, int limit, bool limit_is_models) {
  const std::string which = limit_is_models ? "the model's max_positions" : "--max-input-length";
  if (t.cut_tokens)
    return "source cut to " + std::to_string(limit) + " tokens (" + which + ")";
  return "source longer than " + std::to_string(limit) + " tokens can span (" + which + "): cut to its first " +
         std::to_string(t.cut_bytes) + " bytes before encoding, " + std::to_string(t.source_length) +
         " tokens kept";
}

// Rank 0's chunk of texts, copied to every rank of `group` (mpirun gives
// stdin to rank 0 only, and an input file need not exist on other hosts).
void share_texts(moe::Collectives& group, std::vector<std::string>& texts) {
  std::string bytes;  // per text: its length (8 bytes), then its bytes
  if (group.rank() == 0)
    for (const std::string& t : texts) {
      const std::uint64_t n = t.size();
      bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
      bytes += t;
    }
  std::uint64_t size = bytes.size();
  group.broadcast(&size, sizeof size, 0);
  bytes.resize(size);
  group.broadcast(bytes.data(), size, 0);
  if (group.rank() == 0) return;
  texts.clear();
  for (std::size_t at = 0; at < bytes.size();) {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data() + at, sizeof n);
    texts.push_back(bytes.substr(at + sizeof n, n));
    at += sizeof n + n;
  }
}

// Reads `in` (leader; other ranks receive its chunks), translates chunk by
// chunk and writes to `out` (leader only; nullptr on other ranks), flushing
// each chunk so output streams. Throws FileError naming `output_name` when a
// write fails.
void translate_stream(const Args& a, moe::Collectives& experts, bool leader, std::istream* in,
                      const std::string& input_name, std::ostream* out, const std::string& output_name) {
  std::unique_ptr<dec::Translator> loaded;
  try {
    loaded = std::make_unique<dec::Translator>(a.translator);
  } catch (const FileError&) {
    throw;
  } catch (const InputError& e) {
    throw with_flag_names(e);
  }
  dec::Translator& translator = *loaded;
  const int input_limit = translator.max_input_length();
  const bool input_limit_is_models = a.translator.max_input_length > input_limit;
  // Known only now (the checkpoint's shape): a minimum no output can reach.
  const int longest_output = translator.model().config().max_positions - 1;
  if (a.translator.search.min_length > longest_output)
    throw InputError("--min-length: must be at most the model's longest output (max_positions - 1 = " +
                     std::to_string(longest_output) + "), got " + std::to_string(a.translator.search.min_length));
  const bool show_progress =
      leader && !a.quiet && a.input != "-" && (a.output != "-" || isatty(STDOUT_FILENO) == 0);
  // Only a regular file can be read twice: counting a pipe's lines (-i <(...),
  // /dev/stdin) would consume the input the translation then finds empty.
  std::error_code type_ec;
  const bool countable = show_progress && fs::is_regular_file(a.input, type_ec);
  Progress progress(show_progress, countable ? std::optional<std::size_t>(count_lines(a.input)) : std::nullopt);
  const std::size_t chunk = static_cast<std::size_t>(a.translator.search.mini_batch) * 10;
  std::vector<std::string> texts;
  std::string line;
  std::size_t done = 0, target_tokens = 0, truncated = 0;
  bool more = true;  // the leader's input has not ended
  for (;;) {          // every rank leaves at the same (empty) chunk
    texts.clear();
    if (leader)
      while (more && texts.size() < chunk && (more = static_cast<bool>(std::getline(*in, line))))
        texts.push_back(source_text(line, a.tsv, input_name, done + texts.size() + 1));
    if (leader && !more && in->bad()) throw FileError(input_name, 0, "read error");
    if (experts.size() > 1) share_texts(experts, texts);
    if (texts.empty()) break;
    const std::vector<dec::TextTranslation> translated = translator.translate(texts, done);
    if (!leader) {
      done += texts.size();
      continue;
    }
    for (std::size_t i = 0; i < texts.size(); ++i) {
      // A long file may have hundreds: name the first few, then count them.
      if (translated[i].truncated && ++truncated <= kTruncationLinesShown)
        std::cerr << "moe-translate: warning: " << input_name << ":" << done + i + 1 << ": "
                  << cut_reason(translated[i], input_limit, input_limit_is_models) << "\n";
      write_translation(*out, a.output_format, a.translator.search.n_best, done + i, texts[i], translated[i],
                        a.report_routing ? &translator : nullptr);
      target_tokens += translated[i].hypotheses.front().pieces.size() + 1;
    }
    out->flush();
    if (!*out) throw FileError(output_name, 0, "write failed");
    done += texts.size();
    progress.update(done, target_tokens, false);
  }
  if (leader) {
    out->flush();
    if (!*out) throw FileError(output_name, 0, "write failed");
  }
  progress.update(done, target_tokens, true);
  if (truncated > kTruncationLinesShown)
    std::cerr << "moe-translate: warning: " << truncated << " of " << done << " sources cut to at most "
              << input_limit << " tokens ("
              << (input_limit_is_models ? "the model's max_positions" : "--max-input-length") << "; the first "
              << kTruncationLinesShown << " named above)\n";
}

int run(Args& a, moe::MpiRuntime& runtime) {
  if (a.input.empty()) throw InputError("--input: empty file name (- is stdin)");
  if (a.output.empty()) throw InputError("--output: empty file name (- is stdout)");
  if (a.output_format != "text" && a.output_format != "json")
    throw InputError("--output-format: expected text or json, got '" + a.output_format + "'");
  if (a.report_routing && a.output_format != "json")
    throw InputError("--report-routing: needs --output-format json (text output has no room for routes)");
  a.translator.search.report_routing = a.report_routing;
  if (a.translator.max_input_length < 2)
    throw InputError("--max-input-length: must be >= 2, got " + std::to_string(a.translator.max_input_length));
  if (!std::isfinite(a.translator.moe_capacity_factor))
    throw InputError("--moe-capacity-factor: must be a finite number, got " +
                     std::to_string(a.translator.moe_capacity_factor));
  if (!(a.translator.moe_capacity_factor >= 0))
    throw InputError("--moe-capacity-factor: must be >= 0 (0 = no dropping)");
  if (!a.sampling.empty()) a.translator.search.sampling = dec::parse_sampling(a.sampling);
  try {
    dec::validate(a.translator.search);
  } catch (const InputError& e) {  // name the flag, not the struct field
    throw with_flag_names(e);
  }
  const dec::SearchOptions& search = a.translator.search;
  // The search allows at least one target token whatever the limit says.
  const int fixed_max_length = std::max(search.max_length_b, 1);
  if (search.max_length_a == 0 && search.min_length > fixed_max_length)
    throw InputError("--min-length: must be at most the longest output, max(1, --max-length-b) = " +
                     std::to_string(fixed_max_length) + " when --max-length-a is 0, got " +
                     std::to_string(search.min_length));
  if (a.threads > 0) moe::set_num_threads(a.threads);

  // Experts sharded over every rank of the job (one rank: all local).
  moe::MeshSpec spec;
  spec.axes = {{"expert", runtime.world_size()}};
  moe::Mesh mesh(runtime, spec);
  moe::Collectives& experts = mesh.axis("expert");
  const bool leader = mesh.rank() == 0;  // reads the input, writes the output
  if (experts.size() > 1) a.translator.expert_axis = &experts;
  a.translator.model_path = a.model;

  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string input_name = a.input == "-" ? "<stdin>" : a.input;
  if (leader) {
    // A directory opens as a stream that simply has no lines.
    std::error_code ec;
    struct stat input;
    // A closed stdin would read as an empty input and "succeed" with no output.
    if (a.input == "-" && fstat(STDIN_FILENO, &input) != 0)
      throw FileError(input_name, 0, std::string("read error: ") + std::strerror(errno));
    if (a.input == "-" ? S_ISDIR(input.st_mode) : fs::is_directory(a.input, ec))
      throw FileError(input_name, 0, "cannot open input: is a directory");
    if (a.input != "-") {
      file.open(a.input, std::ios::binary);
      if (!file) throw FileError(a.input, 0, "cannot open input");
      in = &file;
    }
    if (a.output != "-" && fs::is_directory(a.output, ec))
      throw FileError(a.output, 0, "cannot open output for writing: is a directory");
  }
  std::error_code ec;
  const fs::file_type output_type = a.output == "-" ? fs::file_type::none : fs::status(a.output, ec).type();
  // /dev/stdout and the like name another stream, however they resolve.
  const bool stream_path = a.output.rfind("/dev/", 0) == 0 || a.output.rfind("/proc/", 0) == 0;
  if (leader && !stream_path &&
      (output_type == fs::file_type::regular || output_type == fs::file_type::not_found)) {
    // Into a temporary file renamed over the output only at the end: a
    // failure (a bad model, a bad input line) leaves an existing file as it
    // was, and -o may name the input, which is read through its own handle.
    // A symbolic link stays one: the file it points to is replaced.
    // A dangling link too: it is the file the link names that gets created.
    std::string target = a.output;
    if (output_type == fs::file_type::regular) {
      target = fs::canonical(a.output).string();
    } else if (fs::is_symlink(fs::symlink_status(a.output, ec))) {
      const fs::path link_target = fs::read_symlink(a.output, ec);
      target = (link_target.is_absolute() ? link_target : fs::path(a.output).parent_path() / link_target).string();
    }
    moe::write_file_atomically(target, [&](std::ostream& out) {
      translate_stream(a, experts, leader, in, input_name, &out, a.output);
    });
  } else if (leader && a.output != "-") {
    // A device, a pipe or /dev/stdout: written in place, never replaced.
    std::ofstream out(a.output, std::ios::binary);
    if (!out) throw FileError(a.output, 0, "cannot open output for writing");
    translate_stream(a, experts, leader, in, input_name, &out, a.output);
  } else {
    translate_stream(a, experts, leader, in, input_name, leader ? &std::cout : nullptr, "<stdout>");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{"moe-translate: translate text with a trained MoE checkpoint", "moe-translate"};
  app.set_version_flag("-V,--version", std::string("moe-translate ") + moe::kVersion);
  Args args;
  define_options(app, args);
  if (const auto status = moe::apps::parse_flags(app, "moe-translate", argc, argv)) return *status;
  // Errors: one line, exit 1 for bad input, 2 otherwise; under mpirun a
  // failing rank names itself and aborts the job.
  return moe::run_on_mesh("moe-translate", [&](moe::MpiRuntime& runtime) { return run(args, runtime); });
}
