#include "train/trainer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "config/dump.h"
#include "data/corpus_reader.h"
#include "data/vocab.h"
#include "decode/translate.h"
#include "decode/translator.h"
#include "eval/bleu.h"
#include "eval/chrf.h"
#include "io/checkpoint.h"
#include "mesh/gradient_reduce.h"
#include "model/transformer.h"
#include "moe/moe_layer.h"
#include "tensor/gemm.h"
#include "train/data_loader.h"
#include "train/model_gradient_sync.h"
#include "train/optimizer.h"
#include "train/plan.h"
#include "train/report.h"
#include "train/schedule.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/rng.h"

namespace moe::train {
namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int sig) {
  if (g_stop_requested.exchange(true)) {
    std::signal(sig, SIG_DFL);  // a second signal ends the process at once
    std::raise(sig);
  }
}

// eval.max_sentences: the dev pairs of each language that validation scores
// (loss, and decoding where it decodes); 0 = all of them.
std::int64_t dev_pairs_per_language(const config::Recipe& r) {
  return r.eval.max_sentences > 0 ? r.eval.max_sentences : std::numeric_limits<std::int64_t>::max();
}

// Gradient all-reduce buckets: small enough that a model of d 256 (a block
// holds about 1-3 MB of gradients) has several in flight during backward,
// large enough that per-call latency stays small. Overlap keeps the loss
// curve exactly (bench/scale_bench.sh); on the 2-core dev VM it did not pay
// (no idle core for the copies; docs/mesh.md), on a real network it should.
constexpr std::size_t kGradientBucketBytes = 4u << 20;

// A counter of trainer_state.json: a non-negative integer. A hand-edited or
// corrupt value would otherwise send the run to a step it can never reach.
std::int64_t state_counter(const Json& state, const char* key, const std::string& path) {
  const Json& value = state.at(key);
  const bool ok = value.is_number_unsigned()
                      ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)
                      : value.is_number_integer() && value.get<std::int64_t>() >= 0;
  if (!ok) throw FileError(path, 0, std::string("'") + key + "' must be a non-negative integer, got " + value.dump());
  return value.get<std::int64_t>();
}

// Holds an exclusive flock() on RUN/train.lock while a run uses the directory:
// two trainers there would interleave metrics.jsonl and read each other's
// half-written checkpoints. The kernel drops the lock when the process dies, so
// a crash or kill -9 leaves nothing stale behind.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& run_dir) {
    const std::string path = (fs::path(run_dir) / "train.lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw FileError(path, 0, std::string("checkpoint.dir: cannot open the run lock: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK)
        throw FileError(run_dir, 0, "checkpoint.dir: another moe-train is training in this run directory");
      throw FileError(path, 0, std::string("checkpoint.dir: cannot lock the run directory: ") + std::strerror(err));
    }
  }
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;
  ~RunDirLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

// Refuses a checkpoint.dir that holds someone else's files: a run writes
// recipe.yaml, report.html, metrics.jsonl, vocab.model, cache/ and
// checkpoints/ there, over whatever has those names. train.lock is the first
// file a run creates, so it marks a run directory even when the run was
// killed before its first checkpoint, and `cp -a` of a run directory copies
// it; checkpoints/latest marks runs from before the lock. A directory holding
// only cache/ is new too: bench/train_bench.sh seeds the encoded corpus there.
void check_run_dir_is_ours(const std::string& run_dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(run_dir, ec);
  if (!fs::exists(status)) return;  // created fresh
  if (!fs::is_directory(status)) throw FileError(run_dir, 0, "checkpoint.dir: not a directory");
  const fs::path dir(run_dir);
  if (fs::is_regular_file(dir / "train.lock", ec) ||
      fs::is_regular_file(dir / "checkpoints" / "latest", ec))
    return;
  for (fs::directory_iterator entry(dir, ec), end; !ec && entry != end; entry.increment(ec)) {
    if (entry->path().filename() != "cache")
      throw FileError(run_dir, 0,
                      "checkpoint.dir: not empty and not a moe-train run directory (it has no "
                      "train.lock), so the run would overwrite its files: choose another "
                      "checkpoint.dir");
  }
  if (ec) throw FileError(run_dir, 0, "checkpoint.dir: cannot list the directory: " + ec.message());
}

// RAM and swap together: what the process could ever be given.
std::int64_t machine_memory_bytes() {
  struct sysinfo info {};
  if (::sysinfo(&info) != 0) return std::numeric_limits<std::int64_t>::max();
  const double bytes =
      (static_cast<double>(info.totalram) + static_cast<double>(info.totalswap)) * info.mem_unit;
  if (bytes >= 9.0e18) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(bytes);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60) o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else o << t << "s";
  return o.str();
}

// The first key of a config section whose value differs between the
// checkpoint's recipe and this one, as "model.d_model: 256 in the checkpoint,
// 512 in the recipe", or "". `only`, when not empty, limits the keys compared.
template <typename Section>
std::string section_difference(const std::string& prefix, const Section& saved, const Section& now,
                               const std::vector<std::string>& only = {}) {
  config::KeyLister a, b;
  Section x = saved, y = now;
  visit(a, x);
  visit(b, y);
  for (std::size_t i = 0; i < a.rows.size() && i < b.rows.size(); ++i) {
    if (!only.empty() && std::find(only.begin(), only.end(), a.rows[i].key) == only.end()) continue;
    if (a.rows[i].value != b.rows[i].value)
      return prefix + "." + a.rows[i].key + ": " + a.rows[i].value + " in the checkpoint, " + b.rows[i].value +
             " in the recipe";
  }
  return "";
}

std::string model_difference(const ModelConfig& saved, const ModelConfig& now) {
  return section_difference("model", saved, now);
}

// What a resumed run must share with its checkpoint besides the model: the
// optimiser and learning-rate schedule (the saved moments and step count mean
// nothing under other settings, and other tensors would be missing), and the
// keys that define the stream of batches, since the saved data position
// (pool, batch) is a place in that stream. data.langs is compared elsewhere,
// as the languages the run actually trains on. Not compared: train.accum_steps
// (batches per update, the same stream grouped otherwise), the stop
// conditions, logging, checkpoint and eval keys, threads, prefetch and the mesh.
std::string resume_difference(const config::Recipe& saved, const config::Recipe& now) {
  std::string diff = section_difference("optimizer", saved.optimizer, now.optimizer);
  if (diff.empty()) diff = section_difference("schedule", saved.schedule, now.schedule);
  if (diff.empty()) diff = section_difference("train", saved.train, now.train, {"seed", "batch_tokens"});
  if (diff.empty())
    diff = section_difference("data", saved.data, now.data,
                              {"sampling_temperature", "max_len", "target_lang_tag", "pool_batches"});
  return diff;
}

// Each training language's pairs and tokens after encoding: a summary saved
// in the trainer state, so a resume notices a corpus that changed under it.
Json corpus_summary(const std::vector<EncodedLanguage>& langs) {
  Json summary = Json::object();
  for (const EncodedLanguage& l : langs)
    summary[l.code] = {{"pairs", l.size()}, {"src_tokens", l.src_ids.size()}, {"tgt_tokens", l.tgt_ids.size()}};
  return summary;
}

std::string language_list(const std::vector<std::string>& codes) {
  std::string out = "[";
  for (std::size_t i = 0; i < codes.size(); ++i) out += (i ? ", " : "") + codes[i];
  return out + "]";
}

// One optimizer step's, or one log window's, statistics, summed over its
// batches. `steps` and `gnorm_sum` are the same on every rank; the other sums
// are this rank's share until log_step() or window_sums() adds up the ranks.
struct StepStats {
  double ls_nll_sum = 0, nll_sum = 0, aux_sum = 0;  // token-weighted / batch sums
  double tokens = 0, src_tokens = 0, batches = 0;
  std::int64_t steps = 0;
  double gnorm_sum = 0;                   // the global gradient norms before clipping, summed over steps
  std::vector<std::string> moe_names;
  std::vector<std::vector<double>> load;  // [layer][E], summed over batches
  std::vector<double> dropped;           // [layer], summed over batches

  void add(const LossParts& p) {
    ls_nll_sum += p.ls_nll * p.tgt_tokens;
    nll_sum += p.nll * p.tgt_tokens;
    aux_sum += p.aux;
    tokens += p.tgt_tokens;
    src_tokens += p.src_tokens;
    batches += 1;
    if (load.empty()) {
      for (const auto& m : p.moe) {
        moe_names.push_back(m.name);
        load.emplace_back(m.stats.expert_load.size(), 0.0);
        dropped.push_back(0.0);
      }
    }
    for (std::size_t l = 0; l < p.moe.size() && l < load.size(); ++l) {
      for (std::size_t e = 0; e < load[l].size() && e < p.moe[l].stats.expert_load.size(); ++e)
        load[l][e] += p.moe[l].stats.expert_load[e];
      dropped[l] += p.moe[l].stats.dropped_fraction;
    }
  }
  void merge(const StepStats& o) {
    ls_nll_sum += o.ls_nll_sum, nll_sum += o.nll_sum, aux_sum += o.aux_sum;
    tokens += o.tokens, src_tokens += o.src_tokens, batches += o.batches;
    steps += o.steps, gnorm_sum += o.gnorm_sum;
    if (load.empty()) {
      moe_names = o.moe_names;
      load = o.load;
      dropped = o.dropped;
      return;
    }
    for (std::size_t l = 0; l < load.size(); ++l) {
      for (std::size_t e = 0; e < load[l].size(); ++e) load[l][e] += o.load[l][e];
      dropped[l] += o.dropped[l];
    }
  }

  // The per-rank sums, flat, for an all-reduce over the mesh (every rank's
  // window has the same layers once it holds a step, or after a resume).
  std::vector<double> rank_sums() const {
    std::vector<double> flat = {ls_nll_sum, nll_sum, aux_sum, tokens, src_tokens, batches};
    for (const auto& l : load) flat.insert(flat.end(), l.begin(), l.end());
    flat.insert(flat.end(), dropped.begin(), dropped.end());
    return flat;
  }
  void set_rank_sums(const std::vector<double>& flat) {
    std::size_t k = 0;
    for (double* v : {&ls_nll_sum, &nll_sum, &aux_sum, &tokens, &src_tokens, &batches}) *v = flat[k++];
    for (auto& l : load)
      for (double& v : l) v = flat[k++];
    for (double& v : dropped) v = flat[k++];
  }

  // The trainer state's "log_window". JSON numbers keep a double exactly
  // (nlohmann writes the shortest text that reads back to it), which the
  // exact resume of the logged curve relies on.
  Json to_json() const {
    return {{"steps", steps},       {"ls_nll_sum", ls_nll_sum}, {"nll_sum", nll_sum},     {"aux_sum", aux_sum},
            {"tokens", tokens},     {"src_tokens", src_tokens}, {"batches", batches},     {"gnorm_sum", gnorm_sum},
            {"moe_layers", moe_names}, {"expert_load", load},   {"dropped", dropped}};
  }
  static StepStats from_json(const Json& j) {
    StepStats w;
    w.steps = j.at("steps").get<std::int64_t>();
    w.ls_nll_sum = j.at("ls_nll_sum").get<double>(), w.nll_sum = j.at("nll_sum").get<double>();
    w.aux_sum = j.at("aux_sum").get<double>(), w.tokens = j.at("tokens").get<double>();
    w.src_tokens = j.at("src_tokens").get<double>(), w.batches = j.at("batches").get<double>();
    w.gnorm_sum = j.at("gnorm_sum").get<double>();
    w.moe_names = j.at("moe_layers").get<std::vector<std::string>>();
    w.load = j.at("expert_load").get<std::vector<std::vector<double>>>();
    w.dropped = j.at("dropped").get<std::vector<double>>();
    if (w.steps < 0 || w.load.size() != w.moe_names.size() || w.dropped.size() != w.moe_names.size())
      throw std::invalid_argument("'log_window' is inconsistent");
    return w;
  }
};

// Where the wall time of a log window went (seconds, rank 0's view). The
// phases from data_wait to checkpoint partition the window (what they leave
// is logging and bookkeeping); gemm, moe_routing and moe_exchange are parts
// of forward + backward, measured only with TrainerOptions::profile.
struct StepTimes {
  double total = 0;        // the window's wall time (tokens/s divides by it)
  double data_wait = 0;    // the step waiting for the prefetch thread's batches
  double batch = 0;        // this rank's share of each batch made into tensors (step thread)
  double forward = 0, backward = 0;
  double grad_reduce = 0;  // gradient all-reduce over the mesh, or what of it is left after
                           // backward when it overlaps backward; waits for slower ranks included
  double clip = 0;         // global gradient norm and scaling
  double optimizer = 0;    // update and zeroing of gradients
  double validation = 0, checkpoint = 0;
  double gemm = 0;          // GEMMs inside forward + backward
  double moe_routing = 0;   // MoE layers outside GEMMs and exchange (moe_times())
  double moe_exchange = 0;  // MoE all-to-alls
  std::int64_t steps = 0;   // optimizer steps in the window
};

// Adds the time since the previous lap to a phase's total: consecutive
// phases of a step are timed with one clock read each.
class Lap {
 public:
  void to(double& phase) {
    const Clock::time_point now = Clock::now();
    phase += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  Clock::time_point last_ = Clock::now();
};

// The process's peak resident set so far, MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Turns GEMM / MoE timing on for a training run and restores it after.
class GemmTimingScope {
 public:
  explicit GemmTimingScope(bool on) : before_(gemm_timing()) { set_gemm_timing(on); }
  ~GemmTimingScope() { set_gemm_timing(before_); }
  GemmTimingScope(const GemmTimingScope&) = delete;
  GemmTimingScope& operator=(const GemmTimingScope&) = delete;

 private:
  bool before_;
};

class Run {
 public:
  Run(const config::Recipe& recipe, Mesh& mesh, const TrainerOptions& options)
      : r_(recipe), mesh_(mesh), opt_(options), leader_(mesh.rank() == 0) {}

  TrainResult go();

 private:
  void prepare_run_dir();
  void load_data();
  void build_model();
  void check_batches_can_be_shared();
  void resume_if_possible();
  bool budget_spent_here() const;
  bool budget_spent();
  bool should_stop();
  void log_step(double lr, const StepTimes& times);
  // `last`: the run ends after this validation, which then also decodes when
  // eval.final_decode asks for it (see validate).
  void validate(bool last);
  void decode_dev_sample(Json& per_lang, double& bleu, double& chrf);
  bool validates_by_loss() const;
  bool decodes_last_validation() const;
  std::string metric_name() const;
  Json window_sums();
  Json trainer_state();
  std::vector<std::string> train_langs() const;
  void checkpoint();
  void print_progress(const std::string& line, bool final_line);
  void append_metrics(Json record);

  const config::Recipe& r_;
  Mesh& mesh_;
  TrainerOptions opt_;
  bool leader_;
  std::string run_dir_, vocab_path_, vocab_fp_;
  std::unique_ptr<data::Vocab> vocab_;
  std::vector<EncodedLanguage> train_, dev_;
  std::vector<std::vector<std::string>> dev_refs_;  // [lang][kept pair] raw English, for BLEU
  // Pairs kept and dropped per split; the first metrics record this process
  // writes carries it (rank 0), then it is null.
  Json data_summary_;
  std::unique_ptr<Transformer<float>> model_;
  std::vector<ParamRef> params_;
  std::vector<ParamRef> replicated_params_, expert_params_;  // params_ split by mesh axis (clipping)
  std::unique_ptr<Optimizer> optimizer_;
  // Mesh of more than one rank: the gradient all-reduce, started block by
  // block during the update's last backward and finished before clipping.
  std::unique_ptr<ModelGradientSync> grad_sync_;
  Collectives* expert_axis_ = nullptr;
  // Every rank of the mesh reads its own share of each global batch (data
  // parallel over the whole world); experts are sharded along "expert" and
  // replicated along "data", as in GShard's 1-D mesh when data = 1.
  int data_rank_ = 0, data_ranks_ = 1;

  // progress
  std::int64_t step_ = 0, tokens_seen_ = 0;
  DataPosition data_pos_;
  double elapsed_before_ = 0;
  Clock::time_point started_ = Clock::now();
  // The open log window: the steps since the last "train" record. It is saved
  // in checkpoints, so a resume goes on with it and logs the same records.
  StepStats window_;
  std::int64_t window_start_tokens_ = 0;  // tokens_seen_ when the window's timing began
  double best_metric_ = NAN;              // lower is better: loss, -BLEU or -chrF
  std::string best_metric_name_;          // which of those (metric_name()), "" before any validation
  std::int64_t best_step_ = -1;
  int evals_without_improvement_ = 0;
  bool early_stop_ = false;
  bool last_validation_decoded_ = false;
  double last_loss_ = NAN;
  std::string last_checkpoint_;
  std::unique_ptr<RunDirLock> run_dir_lock_;  // rank 0 only
  std::int64_t checkpointed_step_ = -1;
  Json checkpointed_state_;  // the trainer state saved at checkpointed_step_
  bool tty_ = false;
};

void Run::print_progress(const std::string& line, bool final_line) {
  if (!leader_ || opt_.quiet) return;
  if (tty_) {
    std::cerr << "\r\033[K" << line << (final_line ? "\n" : "") << std::flush;
  } else {
    std::cerr << line << "\n" << std::flush;
  }
}

void Run::prepare_run_dir() {
  run_dir_ = r_.checkpoint.dir.value;
  if (run_dir_.empty()) throw InputError("checkpoint.dir: the recipe must name a run directory");
  if (r_.vocab.model.empty()) throw InputError("vocab.model: the recipe must name a SentencePiece model");
  const std::string& user_vocab = r_.vocab.model.value;
  if (!fs::exists(user_vocab))
    throw FileError(user_vocab, 0, "vocab.model: no such SentencePiece model (build it with moe-tokenize train)");
  if (!fs::is_regular_file(user_vocab)) throw FileError(user_vocab, 0, "vocab.model: not a regular file");
  // Checked before the run directory gets its copy: a bad file copied there
  // would make every later run in that directory refuse the right model.
  data::Vocab::load(user_vocab);
  if (!r_.vocab.target_model.empty())
    throw InputError("vocab.target_model: separate target vocabularies are not supported by the model "
                     "yet (its embedding is shared); leave it empty");
  if (r_.data.corpus_dir.empty()) throw InputError("data.corpus_dir: the recipe must name a corpus directory");
  vocab_path_ = (fs::path(run_dir_) / "vocab.model").string();
  vocab_fp_ = data::vocab_fingerprint(r_.vocab.model.value);
  if (leader_) {
    check_run_dir_is_ours(run_dir_);
    std::error_code ec;
    fs::create_directories(run_dir_, ec);
    if (ec) throw FileError(run_dir_, 0, "checkpoint.dir: cannot create the run directory: " + ec.message());
    run_dir_lock_ = std::make_unique<RunDirLock>(run_dir_);
    // What writers killed mid-write left behind; the lock says none is writing now.
    remove_atomic_write_temporaries(run_dir_);
    remove_atomic_write_temporaries((fs::path(run_dir_) / "cache").string());
    fs::remove(vocab_path_ + ".tmp", ec);  // where earlier versions copied the vocabulary first
    // RUN/recipe.yaml is rewritten at every start. Running moe-train's own
    // dump from there is fine (it gets the same keys back); a recipe of the
    // user's that happens to sit there would lose its comments and includes.
    const fs::path saved_recipe = fs::path(run_dir_) / "recipe.yaml";
    if (!opt_.recipe_path.empty() && fs::exists(saved_recipe) && fs::equivalent(opt_.recipe_path, saved_recipe, ec)) {
      std::ifstream in(saved_recipe);
      std::string first_line;
      std::getline(in, first_line);
      if (first_line != config::kRecipeDumpHeader)
        throw FileError(opt_.recipe_path, 0,
                        "checkpoint.dir is this recipe's folder, where moe-train writes its own recipe.yaml over "
                        "this file: choose another checkpoint.dir");
    }
    if (fs::exists(vocab_path_) && data::vocab_fingerprint(vocab_path_) != vocab_fp_)
      throw FileError(vocab_path_, 0,
                      "the run directory was started with another vocabulary than " + user_vocab +
                          " (use a new checkpoint.dir, or the same model)");
    if (!fs::exists(vocab_path_)) copy_file_atomically(user_vocab, vocab_path_);
  }
  mesh_.world().barrier();
  tty_ = ::isatty(STDERR_FILENO) != 0;
}

void Run::load_data() {
  vocab_ = std::make_unique<data::Vocab>(data::Vocab::load(vocab_path_));
  if (vocab_->size() != r_.model.vocab)
    throw InputError("model.vocab: " + std::to_string(r_.model.vocab) + ", but the vocabulary " +
                     r_.vocab.model.value + " has " + std::to_string(vocab_->size()) + " pieces");
  EncodeOptions enc;
  enc.max_len = std::min(r_.data.max_len, r_.model.max_positions);
  enc.target_lang_tag = r_.data.target_lang_tag;
  enc.cache_dir = (fs::path(run_dir_) / "cache").string();
  enc.threads = r_.train.threads;
  const auto t0 = Clock::now();
  // Rank 0 encodes first so the other ranks read its cache instead of racing it.
  DroppedPairs train_dropped, dev_dropped;
  if (leader_)
    train_ = encode_corpus(r_.data.corpus_dir.value, data::Split::kTrain, r_.data.langs, *vocab_, enc, &train_dropped);
  mesh_.world().barrier();
  if (!leader_) train_ = encode_corpus(r_.data.corpus_dir.value, data::Split::kTrain, r_.data.langs, *vocab_, enc);
  // fairseq says what its filters dropped; a pair dropped in silence looks like a corpus bug.
  const std::string max_len_key =
      r_.model.max_positions < r_.data.max_len ? "model.max_positions" : "data.max_len";
  if (train_.empty()) {
    // Rank 0 counted the drops; a limit that keeps nothing is named, not the corpus.
    if (train_dropped.too_long > 0)
      throw InputError(max_len_key + ": no training pair of " + r_.data.corpus_dir.value + " fits in " +
                       std::to_string(enc.max_len) + " tokens a side (EOS included; " +
                       std::to_string(train_dropped.too_long) + " pairs are longer)");
    throw InputError("data: the corpus " + r_.data.corpus_dir.value + " has no training pairs");
  }
  if (r_.eval.every > 0) {
    if (leader_)
      dev_ = encode_corpus(r_.data.corpus_dir.value, data::Split::kDev, r_.data.langs, *vocab_, enc, &dev_dropped);
    mesh_.world().barrier();
    if (!leader_) dev_ = encode_corpus(r_.data.corpus_dir.value, data::Split::kDev, r_.data.langs, *vocab_, enc);
    for (const auto& l : dev_) {
      const auto pairs = data::read_corpus_pairs(r_.data.corpus_dir.value, data::Split::kDev, l.code);
      std::vector<std::string> refs;
      const std::size_t n = std::min<std::size_t>(l.size(), dev_pairs_per_language(r_));
      for (std::size_t i = 0; i < n; ++i) refs.push_back(pairs[l.line[i]].second);
      dev_refs_.push_back(std::move(refs));
    }
  }
  std::size_t pairs = 0;
  for (const auto& l : train_) pairs += l.size();
  if (leader_ && !opt_.quiet) {
    std::ostringstream o;
    o << "data: " << train_.size() << " languages, " << pairs << " training pairs, " << dev_.size()
      << " dev sets (" << std::fixed << std::setprecision(1) << seconds_since(t0) << " s)";
    log::info(o.str());
  }
  data_summary_ = {{"max_len", enc.max_len}};
  const auto summarize = [&](const char* split, const std::vector<EncodedLanguage>& langs, const DroppedPairs& d) {
    std::uint64_t kept = 0;
    for (const auto& l : langs) kept += l.size();
    data_summary_[split] = {{"kept", kept}, {"dropped", d.total()}, {"too_long", d.too_long}, {"empty", d.empty}};
    if (!leader_ || opt_.quiet) return;
    std::ostringstream o;
    o << split << ": " << kept << " pairs kept, " << d.total() << " dropped";
    std::vector<std::string> reasons;
    if (d.too_long > 0)
      reasons.push_back(std::to_string(d.too_long) + " longer than " + max_len_key + "=" + std::to_string(enc.max_len));
    if (d.empty > 0) reasons.push_back(std::to_string(d.empty) + " empty");
    for (std::size_t i = 0; i < reasons.size(); ++i) o << (i ? ", " : " (") << reasons[i];
    if (!reasons.empty()) o << ")";
    log::info(o.str());
  };
  summarize("train", train_, train_dropped);
  if (r_.eval.every > 0) summarize("dev", dev_, dev_dropped);
}

void Run::append_metrics(Json record) {
  if (!data_summary_.is_null()) record["data"] = std::exchange(data_summary_, Json());
  const std::string path = (fs::path(run_dir_) / "metrics.jsonl").string();
  std::ofstream out(path, std::ios::app);
  out << record.dump() << "\n";
  out.close();
  // A record lost in silence (a full disk) would leave a gap in the log and report.
  if (!out) throw FileError(path, 0, "cannot append the step's record (disk full, or not writable)");
}

void Run::build_model() {
  data_rank_ = mesh_.rank();
  data_ranks_ = mesh_.size();
  for (const auto& [name, size] : mesh_.spec().axes)
    if (name == "expert" && size > 1) expert_axis_ = &mesh_.axis("expert");
  model_ = std::make_unique<Transformer<float>>(r_.model, static_cast<std::uint64_t>(r_.train.seed), expert_axis_);
  WeightTable<float>& w = model_->weights();
  for (const WeightInfo& info : w.entries()) {
    const bool expert = info.axis == MeshAxis::kExpert;
    params_.push_back({info.name, w.param(info.name), w.grad(info.name), expert ? 1 : 0});
    (expert ? expert_params_ : replicated_params_).push_back(params_.back());
  }
  optimizer_ = make_optimizer(r_.optimizer, params_);
  if (mesh_.size() > 1) {
    // Each share's gradient already carries the whole update's weights: sum them.
    ModelGradientSyncOptions sync;
    sync.reduce.scaling = GradientScaling::kSum;
    sync.reduce.bucket_bytes = kGradientBucketBytes;
    grad_sync_ = std::make_unique<ModelGradientSync>(mesh_, *model_, sync);
  }
}

// Every rank of the mesh takes its own sentences of each batch, so a batch
// needs one per rank. Batches are cut at train.batch_tokens padded tokens; one
// with room for data_ranks_ of the corpus's longest pairs always holds that
// many, and the sampler skips a pool's leftover last batch that holds fewer.
// Checked before training, not when such a batch comes up hours later.
void Run::check_batches_can_be_shared() {
  if (data_ranks_ <= 1) return;
  const std::int64_t longest = longest_padded_len(train_);
  if (r_.train.batch_tokens / data_ranks_ >= longest) return;
  throw InputError("train.batch_tokens: " + std::to_string(r_.train.batch_tokens) + " cannot hold " +
                   std::to_string(data_ranks_) + " sentences (one per rank) of the corpus's longest pair (" +
                   std::to_string(longest) + " tokens): raise it to at least " +
                   std::to_string(longest * data_ranks_) + " or lower data.max_len");
}

std::vector<io::ShardedTensor> optimizer_tensors(Optimizer& opt, WeightTable<float>& w, std::int64_t experts) {
  std::vector<io::ShardedTensor> out;
  for (const NamedState& s : opt.state()) {
    const std::string param = s.name.substr(0, s.name.rfind('.'));
    const WeightInfo& info = w.info(param);
    out.push_back({s.name, s.tensor, info.axis, info.first_slice, info.axis == MeshAxis::kExpert ? experts : 0});
  }
  return out;
}

// Records past `step` belong to an interrupted attempt: dropping them makes the
// log read as one uninterrupted run (step 0: a start from scratch drops all).
// `open_window`: the checkpoint at `step` was saved with a log window open, so
// a "train" record at `step` is the partial one a stopping run writes; the
// resumed run goes on with that window and logs it whole.
void drop_metrics_after(const std::string& run_dir, std::int64_t step, bool open_window = false) {
  const std::string metrics = (fs::path(run_dir) / "metrics.jsonl").string();
  if (!fs::exists(metrics)) return;
  std::ifstream in(metrics);
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    const Json j = Json::parse(line, nullptr, false);
    // Only records this trainer could have written are kept: an integer step,
    // a string type (a hand-edited line would otherwise stop every resume).
    const bool well_formed = j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
                             j.contains("type") && j["type"].is_string();
    const std::int64_t at = well_formed ? j["step"].get<std::int64_t>() : 0;
    const bool partial_train_record = open_window && at == step && well_formed && j["type"] == "train";
    const bool kept_record = step > 0 && well_formed && at <= step && !partial_train_record;
    if (kept_record) kept << line << "\n";
  }
  in.close();
  write_file_atomically(metrics, kept.str());
}

void Run::resume_if_possible() {
  const std::string latest = io::latest_checkpoint(run_dir_);
  if (latest.empty()) {
    if (leader_) drop_metrics_after(run_dir_, 0);
    return;
  }
  if (!opt_.resume)
    throw InputError(run_dir_ + ": the run directory already has checkpoints; resume (the default) or "
                     "choose a new checkpoint.dir");
  const io::CheckpointInfo info = io::read_checkpoint_info(latest);
  std::string diff = model_difference(info.recipe.model, r_.model);
  if (!diff.empty())
    throw FileError(latest, 0, "cannot resume: the checkpoint's model differs from the recipe (" + diff + ")");
  if (info.vocab_fingerprint != vocab_fp_)
    throw FileError(latest, 0, "cannot resume: the checkpoint was trained with another vocabulary than " +
                                   r_.vocab.model.value);
  // Before the tensors load: another optimiser would miss tensors, and the
  // message names the key instead.
  diff = resume_difference(info.recipe, r_);
  const std::string state_path = latest + "/trainer_state.json";
  if (info.trainer_state_json.empty()) throw FileError(state_path, 0, "missing or empty: cannot resume without it");
  Json state;
  try {
    state = Json::parse(info.trainer_state_json);
  } catch (const Json::exception& e) {
    throw FileError(state_path, 0, std::string("corrupt trainer state: ") + e.what());
  }
  // The languages trained on, in order, as resolved (an empty data.langs
  // means all the corpus has): a language added, gone or moved changes the
  // stream (the sampler numbers languages in this order).
  const std::vector<std::string> codes = train_langs();
  const Json saved_langs = state.is_object() ? state.value("train_langs", Json()) : Json();
  if (diff.empty() && saved_langs.is_array()) {
    std::vector<std::string> saved_codes;
    for (const Json& code : saved_langs) saved_codes.push_back(code.is_string() ? code.get<std::string>() : "?");
    if (saved_codes != codes)
      diff = "data.langs: the checkpoint trained on " + language_list(saved_codes) + ", this run would train on " +
             language_list(codes);
  } else if (diff.empty() && info.recipe.data.langs != r_.data.langs) {
    diff = "data.langs: " + language_list(info.recipe.data.langs) + " in the checkpoint, " +
           language_list(r_.data.langs) + " in the recipe";
  }
  if (!diff.empty())
    throw FileError(latest, 0,
                    "cannot resume: " + diff +
                        " (a run resumes with the optimizer, schedule and data stream it was trained with: put the "
                        "checkpoint's value back, or train into a new checkpoint.dir)");
  const std::int64_t E = r_.model.moe.num_experts;
  io::load_checkpoint_tensors(latest, "weights", io::weight_tensors(model_->weights(), E));
  io::load_checkpoint_tensors(latest, "optimizer", optimizer_tensors(*optimizer_, model_->weights(), E));
  try {
    step_ = state_counter(state, "step", state_path);
    tokens_seen_ = state_counter(state, "tokens", state_path);
    data_pos_ = {state_counter(state, "data_pool", state_path), state_counter(state, "data_batch", state_path)};
    const std::string name = fs::path(latest).filename().string();
    if (name.rfind("step-", 0) == 0 && name != io::step_checkpoint_name(step_))
      throw FileError(state_path, 0, "step " + std::to_string(step_) + " does not match the checkpoint " + name);
    elapsed_before_ = state.value("elapsed_seconds", 0.0);
    best_metric_ = state.contains("best_metric") && state["best_metric"].is_number() ? state["best_metric"].get<double>() : NAN;
    best_step_ = state.value("best_step", static_cast<std::int64_t>(-1));
    evals_without_improvement_ = state.value("evals_without_improvement", 0);
    // Checkpoints from before the name was saved: the metric their recipe validated with.
    best_metric_name_ = state.value("best_metric_name", std::string());
    if (best_metric_name_.empty() && std::isfinite(best_metric_))
      best_metric_name_ = info.recipe.eval.metric == config::EvalMetric::kLoss || info.recipe.mesh.expert > 1
                              ? "loss"
                              : config::enum_name(info.recipe.eval.metric);
    // Older checkpoints have no log window: their resumed log starts a new one.
    if (state.contains("log_window")) {
      window_ = StepStats::from_json(state["log_window"]);
      // The saved sums are the whole mesh's; rank 0 carries them on, so the
      // sum over ranks in log_step() counts them once.
      if (!leader_) window_.set_rank_sums(std::vector<double>(window_.rank_sums().size(), 0.0));
    }
  } catch (const Json::exception& e) {
    throw FileError(state_path, 0, std::string("corrupt trainer state: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw FileError(state_path, 0, std::string("corrupt trainer state: ") + e.what());
  }
  // `best` and patience compare one metric: loss against -BLEU would pick nonsense.
  if (std::isfinite(best_metric_) && best_metric_name_ != metric_name()) {
    if (leader_)
      log::warn("eval.metric: the checkpoint's best is by " + best_metric_name_ + ", this run validates by " +
                metric_name() + ": the best checkpoint and patience start anew with the next validation");
    best_metric_ = NAN;
    best_step_ = -1;
    evals_without_improvement_ = 0;
    best_metric_name_.clear();
  }
  // Marian and fairseq continue silently on a changed corpus; the data
  // position still points into a valid stream, so this run does too, but says so.
  const Json saved_corpus = state.is_object() ? state.value("train_data", Json()) : Json();
  const Json corpus_now = corpus_summary(train_);
  if (leader_ && saved_corpus.is_object() && saved_corpus != corpus_now) {
    for (const auto& [code, now] : corpus_now.items()) {
      const Json then = saved_corpus.value(code, Json());
      if (then == now) continue;
      auto pairs_and_tokens = [](const Json& j) {
        if (!j.is_object()) return std::string("?");
        return j.value("pairs", Json()).dump() + " pairs of " + j.value("src_tokens", Json()).dump() + " + " +
               j.value("tgt_tokens", Json()).dump() + " tokens";
      };
      log::warn("data: the training corpus changed since the checkpoint (" + code + ": " + pairs_and_tokens(then) +
                " then, " + pairs_and_tokens(now) + " now); the run goes on with it from the saved data position");
      break;
    }
  }
  last_checkpoint_ = latest;
  checkpointed_step_ = step_;
  checkpointed_state_ = state;
  window_start_tokens_ = tokens_seen_;
  if (leader_) {
    // What a rewrite of the trainer state (checkpoint()) killed mid-write left.
    remove_atomic_write_temporaries(latest);
    drop_metrics_after(run_dir_, step_, window_.steps > 0);
  }
  if (leader_ && !opt_.quiet) log::info("resuming from " + latest + " at step " + std::to_string(step_));
}

// The recipe's budget (updates, target tokens, minutes) as this rank sees it.
bool Run::budget_spent_here() const {
  const double elapsed = elapsed_before_ + seconds_since(started_);
  return (r_.train.max_steps > 0 && step_ >= r_.train.max_steps) ||
         (r_.train.max_tokens > 0 && tokens_seen_ >= r_.train.max_tokens) ||
         (r_.train.max_minutes > 0 && elapsed >= 60.0 * r_.train.max_minutes);
}

// The same, agreed by every rank (a collective: clocks differ).
bool Run::budget_spent() {
  double flag = budget_spent_here() ? 1.0 : 0.0;
  mesh_.world().all_reduce_sum(&flag, 1);
  return flag > 0;
}

bool Run::should_stop() {
  const bool stop = g_stop_requested.load() || early_stop_ || budget_spent_here();
  // Every rank must take the same decision (clocks and signals differ).
  double flag = stop ? 1.0 : 0.0;
  mesh_.world().all_reduce_sum(&flag, 1);
  return flag > 0;
}

void Run::log_step(double lr, const StepTimes& times) {
  // Sum the window over the ranks (each saw its share of every batch).
  StepStats w = window_;
  if (mesh_.size() > 1) {
    std::vector<double> flat = w.rank_sums();
    mesh_.world().all_reduce_sum(flat.data(), flat.size());
    w.set_rank_sums(flat);
  }
  const double loss = w.tokens > 0 ? w.ls_nll_sum / w.tokens : NAN;
  const double nll = w.tokens > 0 ? w.nll_sum / w.tokens : NAN;
  const double aux = w.batches > 0 ? w.aux_sum / w.batches : 0;
  last_loss_ = loss;
  // The tokens of the timed steps: a window resumed from a checkpoint holds
  // steps of the earlier process too.
  const double tps = times.total > 0 ? static_cast<double>(tokens_seen_ - window_start_tokens_) / times.total : 0;
  if (!leader_) return;
  Json rec = {{"type", "train"}, {"step", step_},   {"loss", loss},   {"nll", nll},
              {"ppl", std::exp(nll)}, {"aux", aux}, {"gnorm", w.steps > 0 ? w.gnorm_sum / w.steps : NAN},
              {"lr", lr},       {"tokens_per_s", tps},
              {"tokens", tokens_seen_}, {"elapsed_s", elapsed_before_ + seconds_since(started_)},
              {"data_wait_s", times.data_wait}, {"steps_in_window", times.steps},
              {"peak_rss_mib", peak_rss_mib()}};
  Json t = {{"total", times.total},         {"data_wait", times.data_wait}, {"batch", times.batch},
            {"forward", times.forward},     {"backward", times.backward},   {"grad_reduce", times.grad_reduce},
            {"clip", times.clip},           {"optimizer", times.optimizer}, {"validation", times.validation},
            {"checkpoint", times.checkpoint}};
  if (opt_.profile) t["gemm"] = times.gemm, t["moe_routing"] = times.moe_routing, t["moe_exchange"] = times.moe_exchange;
  rec["time_s"] = t;
  if (!w.load.empty()) {
    Json load = Json::array(), dropped = Json::array();
    for (std::size_t l = 0; l < w.load.size(); ++l) {
      Json row = Json::array();
      for (double v : w.load[l]) row.push_back(v / w.batches);
      load.push_back(row);
      dropped.push_back(w.dropped[l] / w.batches);
    }
    rec["moe_layers"] = w.moe_names;
    rec["expert_load"] = load;
    rec["dropped"] = dropped;
  }
  append_metrics(std::move(rec));

  std::ostringstream o;
  const double elapsed = elapsed_before_ + seconds_since(started_);
  o << "step " << step_;
  if (r_.train.max_steps > 0) o << "/" << r_.train.max_steps;
  o << std::fixed << std::setprecision(3) << " | loss " << loss << " | ppl " << std::setprecision(2) << std::exp(nll);
  if (!w.load.empty()) o << " | aux " << std::setprecision(3) << aux;
  o << " | " << std::setprecision(0) << tps << " tok/s | lr " << std::scientific << std::setprecision(2) << lr
    << std::fixed << " | " << format_duration(elapsed);
  double remaining = NAN;
  if (r_.train.max_steps > 0 && step_ > 0) remaining = elapsed / step_ * (r_.train.max_steps - step_);
  if (r_.train.max_minutes > 0) {
    const double by_time = 60.0 * r_.train.max_minutes - elapsed;
    remaining = std::isfinite(remaining) ? std::min(remaining, by_time) : by_time;
  }
  if (std::isfinite(remaining)) o << " | eta " << format_duration(remaining);
  print_progress(o.str(), false);
}

void Run::validate(bool last) {
  if (dev_.empty()) return;
  const auto batches = evaluation_batches(dev_, std::max<std::int64_t>(256, r_.train.batch_tokens),
                                          dev_pairs_per_language(r_));
  std::vector<double> nll(dev_.size(), 0.0), tokens(dev_.size(), 0.0);
  Rng unused(0);
  // Shares along the data axis only: the ranks of one expert group score the
  // same sentences, so a share too small to split is skipped by the whole
  // group together and no MoE all-to-all waits for a rank that skipped it.
  const int share = mesh_.coord("data"), shares = mesh_.axis_size("data");
  for (const auto& refs : batches) {
    const Batch b = make_batch(dev_, refs, share, shares);
    if (b.batch == 0) continue;
    const LossParts p = model_->forward(b, /*training=*/false, unused);
    nll[refs[0].lang] += p.nll * p.tgt_tokens;
    tokens[refs[0].lang] += p.tgt_tokens;
  }
  mesh_.world().all_reduce_sum(nll.data(), nll.size());
  mesh_.world().all_reduce_sum(tokens.data(), tokens.size());
  // Data-axis ranks scored disjoint shares; expert-axis peers the same share.
  const double copies = static_cast<double>(mesh_.size()) / shares;
  double all_nll = 0, all_tok = 0;
  Json per_lang = Json::object();
  for (std::size_t l = 0; l < dev_.size(); ++l) {
    all_nll += nll[l] / copies, all_tok += tokens[l] / copies;
    if (tokens[l] > 0)
      per_lang[dev_[l].code] = {{"loss", nll[l] / tokens[l]}, {"ppl", std::exp(nll[l] / tokens[l])},
                                {"sentences", std::min<std::size_t>(dev_[l].size(), dev_pairs_per_language(r_))}};
  }
  const double loss = all_tok > 0 ? all_nll / all_tok : NAN;

  // Language groups by training data, as GShard reports high/medium/low-resource
  // languages: the dev languages in thirds by their training pairs (none with
  // fewer than three languages, where a "third" would name one language
  // "low" for no reason).
  std::map<std::string, std::size_t> train_pairs;
  for (const auto& l : train_) train_pairs[l.code] = l.size();
  std::vector<std::size_t> order(dev_.size());
  for (std::size_t l = 0; l < order.size(); ++l) order[l] = l;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return train_pairs[dev_[a].code] > train_pairs[dev_[b].code];
  });
  Json per_group = Json::object();
  const char* group_names[3] = {"high", "medium", "low"};
  for (int g = 0; g < 3 && order.size() >= 3; ++g) {
    double g_nll = 0, g_tok = 0;
    std::size_t langs = 0;
    for (std::size_t k = order.size() * g / 3; k < order.size() * (g + 1) / 3; ++k) {
      g_nll += nll[order[k]], g_tok += tokens[order[k]], ++langs;
    }
    if (g_tok > 0) per_group[group_names[g]] = {{"loss", g_nll / g_tok}, {"ppl", std::exp(g_nll / g_tok)}, {"languages", langs}};
  }

  double bleu = NAN, chrf = NAN;
  bool decoded = false;
  if (!validates_by_loss()) {
    decode_dev_sample(per_lang, bleu, chrf);
    decoded = true;
  }
  // `best` follows the recipe's metric; loss is lower-is-better, the others higher.
  double metric = loss;
  if (decoded && r_.eval.metric == config::EvalMetric::kBleu) metric = -bleu;
  if (decoded && r_.eval.metric == config::EvalMetric::kChrf) metric = -chrf;
  const bool improved = !std::isfinite(best_metric_) || metric < best_metric_;
  if (improved) {
    best_metric_ = metric;
    best_metric_name_ = metric_name();
    best_step_ = step_;
    evals_without_improvement_ = 0;
  } else {
    ++evals_without_improvement_;
    if (r_.eval.patience > 0 && evals_without_improvement_ >= r_.eval.patience) early_stop_ = true;
  }
  // A run validated by loss can still end with per-language BLEU/chrF (the
  // report's bars) when the recipe asks: decoding at every validation would
  // eat a short budget, once at the end costs one dev-sample translation.
  // Early stopping makes this validation the last one as well.
  if (!decoded && decodes_last_validation() && (last || early_stop_)) {
    decode_dev_sample(per_lang, bleu, chrf);
    decoded = true;
  }
  last_validation_decoded_ = decoded;
  if (leader_) {
    Json rec = {{"type", "dev"},          {"step", step_},          {"loss", loss},
                {"ppl", std::exp(loss)},  {"per_lang", per_lang},   {"per_group", per_group}};
    if (decoded) rec["bleu"] = bleu, rec["chrf"] = chrf;
    append_metrics(std::move(rec));
    std::ostringstream o;
    o << "dev step " << step_ << " | loss " << std::fixed << std::setprecision(3) << loss << " | ppl "
      << std::setprecision(2) << std::exp(loss);
    for (const char* g : group_names)
      if (per_group.contains(g)) o << " | " << g << " " << std::setprecision(3) << per_group[g]["loss"].get<double>();
    if (decoded) o << std::setprecision(2) << " | BLEU " << bleu << " | chrF " << chrf;
    o << (improved ? " | best" : "");
    print_progress(o.str(), true);
  }
  if (improved) {
    checkpoint();
    if (leader_) io::mark_best(run_dir_, last_checkpoint_);
  }
  // A person watching a long run, or one killed later, has a report as recent
  // as the last validation.
  if (leader_) write_report(run_dir_, "moe-train: " + run_dir_);
}

// BLEU and chrF need dev decoding, which needs every expert on rank 0, so
// with sharded experts the loss stands in for them.
bool Run::validates_by_loss() const {
  return r_.eval.metric == config::EvalMetric::kLoss || expert_axis_ != nullptr;
}

// eval.final_decode, where the experts allow dev decoding at all.
bool Run::decodes_last_validation() const { return r_.eval.final_decode && expert_axis_ == nullptr; }

// The metric `best` is chosen by.
std::string Run::metric_name() const {
  return validates_by_loss() ? "loss" : config::enum_name(r_.eval.metric);
}

// BLEU / chrF of greedy or beam translations of the first max_sentences dev
// pairs per language into per_lang, and their macro averages over languages
// (GShard's way of reporting 100 languages) into bleu and chrf on every rank.
// Rank 0 decodes alone, so this needs every expert on rank 0 (mesh.expert ==
// 1). A collective.
void Run::decode_dev_sample(Json& per_lang, double& bleu, double& chrf) {
  double scores[2] = {0, 0};
  if (leader_) {
    decode::SearchOptions search;
    search.beam_size = r_.eval.beam_size;
    search.never_generate = decode::never_generated_ids(*vocab_);  // as moe-translate decodes
    double bleu_sum = 0, chrf_sum = 0;
    int scored = 0;
    for (std::size_t l = 0; l < dev_.size(); ++l) {
      const EncodedLanguage& lang = dev_[l];
      std::vector<std::vector<std::int32_t>> sources;
      for (std::size_t i = 0; i < dev_refs_[l].size(); ++i)
        sources.emplace_back(lang.src_ids.begin() + lang.src_off[i], lang.src_ids.begin() + lang.src_off[i + 1]);
      if (sources.empty()) continue;
      const auto hyps = decode::translate(*model_, sources, search);
      std::vector<std::string> texts;
      for (const auto& h : hyps)
        texts.push_back(h.empty() ? "" : vocab_->decode_ids(std::vector<int>(h[0].tokens.begin(), h[0].tokens.end())));
      const double b = eval::corpus_bleu(texts, {dev_refs_[l]}).score;
      const double c = eval::corpus_chrf(texts, {dev_refs_[l]});
      per_lang[lang.code]["bleu"] = b;
      per_lang[lang.code]["chrf"] = c;
      bleu_sum += b, chrf_sum += c, ++scored;
    }
    scores[0] = scored ? bleu_sum / scored : 0;
    scores[1] = scored ? chrf_sum / scored : 0;
  }
  mesh_.world().broadcast(scores, sizeof scores, 0);
  bleu = scores[0], chrf = scores[1];
}

// The open log window with its sums added up over the mesh (a collective).
Json Run::window_sums() {
  StepStats w = window_;
  if (mesh_.size() > 1) {
    std::vector<double> flat = w.rank_sums();
    mesh_.world().all_reduce_sum(flat.data(), flat.size());
    w.set_rank_sums(flat);
  }
  return w.to_json();
}

std::vector<std::string> Run::train_langs() const {
  std::vector<std::string> codes;
  for (const EncodedLanguage& l : train_) codes.push_back(l.code);
  return codes;
}

Json Run::trainer_state() {
  return {{"format", io::kCheckpointFormat},
          {"step", step_},
          {"tokens", tokens_seen_},
          {"data_pool", data_pos_.pool},
          {"data_batch", data_pos_.batch},
          {"elapsed_seconds", elapsed_before_ + seconds_since(started_)},
          {"best_metric", std::isfinite(best_metric_) ? Json(best_metric_) : Json(nullptr)},
          {"best_metric_name", best_metric_name_},
          {"best_step", best_step_},
          {"evals_without_improvement", evals_without_improvement_},
          {"seed", r_.train.seed},
          {"log_window", window_sums()},
          {"train_langs", train_langs()},
          {"train_data", corpus_summary(train_)}};
}

void Run::checkpoint() {
  const Json state = trainer_state();
  if (checkpointed_step_ == step_) {
    // This step is saved already, but a validation since (the one at the end
    // of a run) may have moved `best`: the saved state must say so, or a
    // resume would measure later validations against the older best.
    Json updated = checkpointed_state_;
    for (const char* key : {"best_metric", "best_metric_name", "best_step", "evals_without_improvement"})
      updated[key] = state[key];
    if (leader_ && updated != checkpointed_state_)
      write_file_atomically((fs::path(last_checkpoint_) / "trainer_state.json").string(), updated.dump(2));
    checkpointed_state_ = updated;
    return;
  }
  io::CheckpointWrite w;
  w.run_dir = run_dir_;
  w.step = step_;
  const std::int64_t E = r_.model.moe.num_experts;
  w.weights = io::weight_tensors(model_->weights(), E);
  w.optimizer = optimizer_tensors(*optimizer_, model_->weights(), E);
  w.trainer_state_json = state.dump(2);
  w.recipe_yaml = config::recipe_to_yaml(r_);
  w.vocab_path = vocab_path_;
  w.vocab_fingerprint = vocab_fp_;
  const int expert_shards = expert_axis_ ? expert_axis_->size() : 1;
  const int expert_shard = expert_axis_ ? expert_axis_->rank() : 0;
  // One copy of each expert shard: the rank at data coordinate 0 of its expert group.
  w.role = io::ShardRole{expert_shard, expert_shards, mesh_.rank() == 0, mesh_.coord("data") == 0};
  w.barrier = [this] { mesh_.world().barrier(); };
  w.keep_last = r_.checkpoint.keep_last;
  last_checkpoint_ = io::save_checkpoint(w);
  checkpointed_step_ = step_;
  checkpointed_state_ = state;
}

TrainResult Run::go() {
  // Before anything is written or allocated: a recipe whose counts pass
  // 2^63, or whose weights alone cannot fit, would end in a wrapped size or
  // the OOM killer after the run directory was set up.
  check_fits_in_memory(make_plan(r_), machine_memory_bytes());
  if (r_.train.threads > 0) set_num_threads(r_.train.threads);
  const GemmTimingScope gemm_timing_scope(opt_.profile);
  prepare_run_dir();
  load_data();
  build_model();
  check_batches_can_be_shared();
  resume_if_possible();
  // After the resume checks, so a refused recipe prunes nothing: its keep_last
  // may not be the run's. A run that trains no further step still prunes here.
  if (leader_) io::clean_checkpoints(run_dir_, r_.checkpoint.keep_last);
  if (leader_) {
    // Its checkpoint.dir is "." (this recipe's folder): the recipe of a `cp -a`
    // copy then trains the copy on, not the run it was copied from.
    config::Recipe saved = r_;
    saved.checkpoint.dir = {".", /*dump_verbatim=*/true};
    write_file_atomically((fs::path(run_dir_) / "recipe.yaml").string(), config::recipe_to_yaml(saved));
  }
  if (leader_ && !opt_.quiet) {
    std::ostringstream o;
    o << "model: " << model_->weights().numel() << " parameters on this rank ("
      << model_->weights().numel(MeshAxis::kExpert) << " in experts); mesh " << mesh_.size() << " rank(s)";
    log::info(o.str());
  }

  std::vector<std::size_t> counts;
  for (const auto& l : train_) counts.push_back(l.size());
  BatchSampler sampler(train_, data::temperature_weights(counts, r_.data.sampling_temperature),
                       static_cast<std::uint64_t>(r_.train.seed), r_.train.batch_tokens, r_.data.pool_batches,
                       data_pos_, data_ranks_);
  Prefetcher prefetch(std::move(sampler), static_cast<std::size_t>(r_.data.prefetch_batches));

  WeightTable<float>& weights = model_->weights();
  weights.zero_grads();
  const std::int64_t first_step = step_;
  StepTimes times;
  auto window_start = Clock::now();
  TrainResult result;
  while (!should_stop()) {
    Lap lap;
    const double gemm_before = gemm_seconds();
    const MoeTimes moe_before = moe_times();
    // The whole update's batches first: their token count weighs every share.
    std::vector<GlobalBatch> batches;
    double update_tokens = 0;
    for (int a = 0; a < r_.train.accum_steps; ++a) {
      batches.push_back(prefetch.pop());
      update_tokens += static_cast<double>(batches.back().tgt_tokens);
    }
    lap.to(times.data_wait);
    const LossWeights loss_weights{update_tokens, 1.0 / (static_cast<double>(data_ranks_) * r_.train.accum_steps)};
    StepStats step_stats;
    for (int a = 0; a < r_.train.accum_steps; ++a) {
      const GlobalBatch& g = batches[a];
      data_pos_ = g.position;
      ++data_pos_.batch;  // the position of the batch after this one (pool rollover is handled by the sampler)
      const Batch b = make_batch(train_, g.sentences, data_rank_, data_ranks_);
      lap.to(times.batch);
      if (b.batch == 0)
        throw InputError("train.batch_tokens: a batch of " + std::to_string(g.sentences.size()) +
                         " sentences cannot be shared by " + std::to_string(data_ranks_) + " ranks; raise it");
      Rng rng(static_cast<std::uint64_t>(r_.train.seed), "step",
              static_cast<std::uint64_t>((step_ * r_.train.accum_steps + a) * data_ranks_ + data_rank_));
      const LossParts parts = model_->forward(b, /*training=*/true, rng);
      lap.to(times.forward);
      if (!std::isfinite(parts.loss))
        throw InputError("training diverged at step " + std::to_string(step_) +
                         " (loss is not finite): lower optimizer.lr or raise schedule.warmup_steps");
      const bool last_share = a + 1 == r_.train.accum_steps;
      model_->backward(loss_weights, grad_sync_ && last_share ? grad_sync_->on_group_final()
                                                              : std::function<void(std::size_t)>{});
      lap.to(times.backward);
      step_stats.add(parts);
      tokens_seen_ += g.tgt_tokens;
    }
    times.gemm += gemm_seconds() - gemm_before;
    const MoeTimes moe_after = moe_times();
    times.moe_routing += moe_after.routing - moe_before.routing;
    times.moe_exchange += moe_after.exchange - moe_before.exchange;
    if (grad_sync_) grad_sync_->finish();
    lap.to(times.grad_reduce);
    // The global norm is logged ("gnorm") with clipping off too: one read of
    // the gradients, against the optimiser's reads and writes of gradients,
    // weights and moments, and one double summed over the expert axis.
    double sq[2] = {grad_squared_norm(replicated_params_), grad_squared_norm(expert_params_)};
    if (expert_axis_) expert_axis_->all_reduce_sum(&sq[1], 1);  // each shard holds different experts
    const double norm = std::sqrt(sq[0] + sq[1]);
    if (r_.train.clip_norm > 0 && norm > r_.train.clip_norm)
      scale_grads(params_, static_cast<float>(r_.train.clip_norm / norm));
    step_stats.steps = 1;
    step_stats.gnorm_sum = norm;
    lap.to(times.clip);
    const double lr = learning_rate(r_.optimizer, r_.schedule, step_);
    optimizer_->update(params_, lr, step_);
    weights.zero_grads();
    lap.to(times.optimizer);
    ++step_;
    ++times.steps;
    window_.merge(step_stats);

    if (step_ % r_.train.log_every == 0) {
      times.total = seconds_since(window_start);
      log_step(lr, times);
      window_ = StepStats{};
      times = StepTimes{};
      window_start = Clock::now();
      window_start_tokens_ = tokens_seen_;
    }
    // Validation and checkpoints count in the window that follows them.
    if (r_.eval.every > 0 && step_ % r_.eval.every == 0) {
      Lap validation;
      // Whether this is the run's last validation matters only to final_decode
      // (and asking is a collective).
      validate(decodes_last_validation() && budget_spent());
      validation.to(times.validation);
    }
    if (step_ % r_.checkpoint.every == 0) {
      Lap saving;
      checkpoint();
      saving.to(times.checkpoint);
    }
  }
  // The open window is logged as it stands; it stays open in the checkpoint,
  // and a resume replaces this record with the whole window's.
  if (window_.steps > 0) {
    times.total = seconds_since(window_start);
    log_step(learning_rate(r_.optimizer, r_.schedule, step_ - 1), times);
  }
  if (leader_ && tty_ && !opt_.quiet) std::cerr << "\n";
  // The model as it ends is validated too (unless that step just was), so the
  // log and the report end with its numbers and `best` can be the last one.
  // A final_decode run whose budget ran out during that step's validation has
  // it again, decoded (a second dev record for the step).
  const bool validated_here = step_ % std::max<std::int64_t>(r_.eval.every, 1) == 0;
  if (r_.eval.every > 0 && step_ > first_step && !g_stop_requested.load() &&
      (!validated_here || (decodes_last_validation() && !last_validation_decoded_)))
    validate(/*last=*/true);
  checkpoint();
  if (leader_) write_report(run_dir_, "moe-train: " + run_dir_);
  result.steps = step_;
  result.last_loss = last_loss_;
  result.interrupted = g_stop_requested.load();
  result.last_checkpoint = last_checkpoint_;
  if (leader_ && !opt_.quiet)
    log::info(std::string(result.interrupted ? "interrupted" : "done") + " at step " + std::to_string(step_) +
              "; checkpoint " + last_checkpoint_);
  return result;
}

}  // namespace

TrainResult train(const config::Recipe& recipe, Mesh& mesh, const TrainerOptions& options) {
  Run run(recipe, mesh, options);
  return run.go();
}

void install_stop_signal_handlers() {
  g_stop_requested = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

}  // namespace moe::train
