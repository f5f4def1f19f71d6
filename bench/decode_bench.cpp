// Translation throughput of moe::decode::translate() (float, one process)
// with random weights and random source sentences (seeded), at the torchref
// sizes:
//   tiny   d256 ffn1024 4 heads 3+3 layers, 8 experts on every other layer, V 8000
//   small  d512 ffn2048 8 heads 6+6 layers, 16 experts on every other layer, V 32000
// for beam 4 and beam 1 (greedy), batches of 32 sentences.
//
//   build/bin/bench_decode [--config tiny|small|all] [--threads 2] [--sentences 64]
//                          [--batch 32] [--src-len 24] [--beams 4,1] [--repeat 2]
//
// A random model rarely predicts EOS, so most hypotheses run to the length
// limit (max_length_a * source tokens + max_length_b): the table therefore
// measures steady decoding work. Target tokens count every output token of
// the best hypotheses plus their EOS. MoE layers decode without dropping
// (the moe-translate default, capacity = group size).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "decode/translate.h"
#include "tensor/gemm.h"
#include "torchref_configs.h"
#include "util/error.h"
#include "util/rng.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config = "all";
  int threads = 0;  // 0 = OpenMP's default
  int sentences = 64;
  int batch = 32;
  int src_len = 24;       // source tokens before EOS; each sentence draws 1/2..1 of this
  std::string beams = "4,1";
  int repeat = 2;         // timed runs per row (the best is reported)
  double max_length_a = 1.0;
  int max_length_b = 8;
  bool fixed_src_len = false;  // every source exactly src_len tokens (torchref's decode benchmark)
  int min_length = 0;     // with max_length_a 0 and b = min: exactly that many tokens (torchref's no-EOS mode)
};

moe::ModelConfig make_config(const std::string& name) {
  return moe::decode::inference_config(torchref_config(name), 0.0);
}

std::vector<std::vector<std::int32_t>> random_sources(const Options& o, int vocab) {
  moe::Rng rng(11, "bench.sources");
  std::vector<std::vector<std::int32_t>> out(static_cast<std::size_t>(o.sentences));
  for (auto& s : out) {
    const std::int64_t len = o.fixed_src_len ? o.src_len
                                             : o.src_len / 2 + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(o.src_len / 2 + 1)));
    for (std::int64_t i = 0; i < std::max<std::int64_t>(len, 1); ++i)
      s.push_back(4 + static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(vocab - 4))));
    s.push_back(2);  // EOS
  }
  return out;
}

std::vector<int> parse_beams(const std::string& list) {
  std::vector<int> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const int k = std::stoi(item);
    if (k < 1) throw moe::InputError("--beams: beam sizes must be >= 1");
    out.push_back(k);
  }
  return out;
}

void run_config(const std::string& name, const Options& o, const std::vector<int>& beams) {
  const moe::ModelConfig cfg = make_config(name);
  moe::Transformer<float> model(cfg, /*seed=*/1);
  const auto sources = random_sources(o, cfg.vocab);
  std::int64_t source_tokens = 0;
  for (const auto& s : sources) source_tokens += static_cast<std::int64_t>(s.size());
  for (int beam : beams) {
    moe::decode::SearchOptions search;
    search.beam_size = beam;
    search.mini_batch = o.batch;
    search.max_length_a = o.max_length_a;
    search.max_length_b = o.max_length_b;
    search.min_length = o.min_length;
    // Warm-up: workspaces and caches reach their steady size.
    moe::decode::translate(model, {sources.front()}, search);
    double best = 1e30;
    std::int64_t target_tokens = 0;
    for (int r = 0; r < o.repeat; ++r) {
      const auto t0 = Clock::now();
      const auto out = moe::decode::translate(model, sources, search);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
      target_tokens = 0;
      for (const auto& n_best : out) target_tokens += static_cast<std::int64_t>(n_best.front().tokens.size()) + 1;
    }
    std::printf("| %-6s | %4d | %7d | %5d | %10lld | %10lld | %7.3f | %11.1f | %12.0f |\n", name.c_str(), beam,
                moe::num_threads(), o.sentences, static_cast<long long>(source_tokens),
                static_cast<long long>(target_tokens), best, o.sentences / best, target_tokens / best);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_decode: translation throughput (beam search over the Transformer's KV cache)"};
  app.add_option("--config", o.config, "tiny, small or all")->check(CLI::IsMember({"tiny", "small", "all"}));
  app.add_option("--threads", o.threads, "OpenMP / Eigen threads (0 = default)")->check(CLI::NonNegativeNumber);
  app.add_option("--sentences", o.sentences, "source sentences per run")->check(CLI::PositiveNumber);
  app.add_option("--batch", o.batch, "sentences per batch (--mini-batch)")->check(CLI::PositiveNumber);
  app.add_option("--src-len", o.src_len, "longest source (tokens before EOS)")->check(CLI::Range(2, 500));
  app.add_option("--beams", o.beams, "comma-separated beam sizes");
  app.add_option("--repeat", o.repeat, "timed runs per row (best reported)")->check(CLI::PositiveNumber);
  app.add_option("--max-length-a", o.max_length_a, "max target tokens = a * source tokens + b");
  app.add_option("--max-length-b", o.max_length_b, "see --max-length-a");
  app.add_flag("--fixed-src-len", o.fixed_src_len, "every source exactly --src-len tokens");
  app.add_option("--min-length", o.min_length, "no EOS before this many tokens")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.threads > 0) moe::set_num_threads(o.threads);
    const std::vector<int> beams = parse_beams(o.beams);
    std::printf("| config | beam | threads | sents | src tokens | tgt tokens | seconds | sentences/s | tgt tokens/s |\n");
    std::printf("|--------|------|---------|-------|------------|------------|---------|-------------|--------------|\n");
    for (const std::string name : {"tiny", "small"})
      if (o.config == "all" || o.config == name) run_config(name, o, beams);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode: %s\n", e.what());
    return 1;
  }
  return 0;
}
