// Training-step throughput of the whole Transformer (forward + backward, float,
// single process) on random batches, at the torchref sizes:
//   tiny   d256 ffn1024 4 heads 3+3 layers, 8 experts on every other layer, V 8000
//   small  d512 ffn2048 8 heads 6+6 layers, 16 experts on every other layer, V 32000
// and their dense twins (tiny-dense, small-dense).
//
//   build/bin/bench_model [--config tiny|small|tiny-dense|small-dense|all]
//                         [--threads 2] [--steps 3] [--warmup 1]
//                         [--batch 128] [--src-len 32] [--tgt-len 32]
//
// "cpu-normalised tok/s" = tokens / (process CPU seconds / threads), as
// torchref prints: insensitive to time-slicing by other jobs (with several
// threads it also counts spin-waiting, so it is a lower bound).
// GFLOP/s uses torchref's train_flops(): matmul FLOPs of the step counted as
// 3 x forward, MoE as top-2 experts per token plus the gate, attention as
// full L x L. Routing follows torchref's benchmark: policy "all", capacity
// factor 1.0 in torchref's convention (= 2.0 in ours: C = ceil(2 S / E)).
// The memory line compares weights + gradients and the activations the model
// implies (cached for backward, estimated from the shapes) with the measured
// peak RSS of the process.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "tensor/gemm.h"
#include "torchref_configs.h"
#include "util/error.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config = "all";
  int threads = 0;  // 0 = OpenMP's default
  int steps = 3;
  int warmup = 1;
  std::int64_t batch = 128, src_len = 32, tgt_len = 32;
};

moe::ModelConfig make_config(const std::string& name) { return torchref_config(name); }

// torchref train_flops().
double train_flops(const moe::ModelConfig& c, std::int64_t B, std::int64_t Ls, std::int64_t Lt) {
  const double d = c.d_model, f = c.ffn_dim, E = c.moe.num_experts, V = c.vocab;
  const double Ts = double(B) * Ls, Tt = double(B) * Lt;
  auto ffn = [&](int i) { return c.is_moe_layer(i) ? 2 * 2 * d * f + d * E : 2 * d * f; };
  double enc_w = 0, dec_w_t = 0;
  for (int i = 0; i < c.enc_layers; ++i) enc_w += 4 * d * d + ffn(i);
  for (int i = 0; i < c.dec_layers; ++i) dec_w_t += 6 * d * d + ffn(i);
  const double dec_w_s = c.dec_layers * 2 * d * d, out_w = V * d;
  const double fwd_mm = 2 * (enc_w * Ts + dec_w_s * Ts + (dec_w_t + out_w) * Tt);
  const double fwd_att =
      4.0 * B * d * (c.enc_layers * double(Ls) * Ls + c.dec_layers * (double(Lt) * Lt + double(Lt) * Ls));
  return 3 * (fwd_mm + fwd_att);
}

// Floats the model keeps between forward and backward, from the shapes (see
// the Block and layer caches in lib/model/transformer.cpp and lib/nn); the MoE
// layer's buffers are counted at capacity (2 x tokens slots at C = 2S/E).
// Backward-only workspaces are shared by all layers and not counted.
double implied_activation_floats(const moe::ModelConfig& c, std::int64_t B, std::int64_t Ls,
                                 std::int64_t Lt) {
  const double M = c.d_model, H = c.ffn_dim, h = c.heads, hd = c.heads * c.kv_dim();
  const double E = c.moe.num_experts, Ns = double(B) * Ls, Nt = double(B) * Lt;
  auto ffn = [&](int i, double n) {
    return c.is_moe_layer(i) ? n * M + n * E + 2 * n * (2 * M + H) : n * H;
  };
  // Residual stream ring, block outputs, loss gradients, one logits chunk.
  double total = 5 * std::max(Ns, Nt) * M + (Ns + 2 * Nt) * M + c.vocab * M + (1 << 22);
  for (int i = 0; i < c.enc_layers; ++i)  // normalised inputs + norm caches, attention, FFN
    total += 4 * Ns * M + 4 * Ns * hd + B * h * Ls * Ls + ffn(i, Ns);
  for (int i = 0; i < c.dec_layers; ++i)
    total += 6 * Nt * M + 4 * Nt * hd + B * h * Lt * Lt +              // self-attention
             2 * Nt * hd + 2 * Ns * hd + B * h * Lt * Ls + ffn(i, Nt);  // cross-attention
  return total;
}

double max_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// User + system CPU seconds of the process so far.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

moe::Batch random_batch(const moe::ModelConfig& c, const Options& o, moe::Rng& rng) {
  moe::Batch b;
  b.batch = o.batch;
  b.src_len = o.src_len;
  b.tgt_len = o.tgt_len;
  auto token = [&] { return static_cast<std::int32_t>(3 + rng.below(c.vocab - 3)); };
  for (std::int64_t i = 0; i < o.batch * o.src_len; ++i) b.src.push_back(token());
  for (std::int64_t s = 0; s < o.batch; ++s) {
    std::vector<std::int32_t> y(o.tgt_len);
    for (auto& t : y) t = token();
    b.tgt_in.push_back(c.bos_id);
    for (std::int64_t t = 0; t + 1 < o.tgt_len; ++t) b.tgt_in.push_back(y[t]);
    b.labels.insert(b.labels.end(), y.begin(), y.end());
  }
  return b;
}

// The machine's SGEMM rate through the same GEMM entry point and threads:
// best of 3 square 2048^3 products. The model's GFLOP/s over this is its
// GEMM efficiency (attention's small batched products and the elementwise
// work are what keep it below 1).
double measured_sgemm_gflops() {
  static const double gflops = [] {
    const std::int64_t n = 2048;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
    double best = 1e30;
    for (int r = 0; r < 3; ++r) {
      const auto t0 = Clock::now();
      moe::gemm<float>(moe::Trans::kNo, moe::Trans::kNo, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
      best = std::min(best, seconds_since(t0));
    }
    return 2.0 * n * n * n / best / 1e9;
  }();
  return gflops;
}

void run(const std::string& name, const Options& o) {
  const moe::ModelConfig cfg = make_config(name);
  moe::Transformer<float> model(cfg, 1);
  moe::Rng data(2);
  const moe::Batch batch = random_batch(cfg, o, data);
  const std::int64_t tokens = o.batch * o.tgt_len;
  std::vector<double> step_s, fwd_s, bwd_s, cpu_s;
  double first_loss = 0, last_loss = 0, dropped = 0;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    moe::Rng rng(3, "step", s);
    model.weights().zero_grads();
    const double c0 = cpu_seconds();
    const auto t0 = Clock::now();
    const moe::LossParts parts = model.forward(batch, true, rng);
    const double f = seconds_since(t0);
    const auto t1 = Clock::now();
    model.backward();
    const double b = seconds_since(t1);
    const double cpu = cpu_seconds() - c0;
    if (s == 0) first_loss = parts.ls_nll;
    last_loss = parts.ls_nll;
    dropped = 0;
    for (const auto& m : parts.moe) dropped += m.stats.dropped_fraction / parts.moe.size();
    if (s < o.warmup) continue;
    fwd_s.push_back(f);
    bwd_s.push_back(b);
    step_s.push_back(f + b);
    cpu_s.push_back(cpu);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double best = *std::min_element(step_s.begin(), step_s.end()), med = median(step_s);
  const double flops = train_flops(cfg, o.batch, o.src_len, o.tgt_len);
  const double weights_mib = 2.0 * model.weights().numel() * sizeof(float) / (1 << 20);
  const double act_mib =
      implied_activation_floats(cfg, o.batch, o.src_len, o.tgt_len) * sizeof(float) / (1 << 20);
  std::printf(
      "RESULT train config=%s thr=%d tok/step=%lld steps=%zu | step_s min %.3f med %.3f | "
      "tgt_tok/s best %.0f med %.0f | GFLOP/s best %.1f med %.1f | cpu-normalised tok/s %.0f | "
      "fwd/bwd med %.3f/%.3f s\n",
      name.c_str(), moe::num_threads(), static_cast<long long>(tokens), step_s.size(), best, med,
      tokens / best, tokens / med, flops / best / 1e9, flops / med / 1e9,
      tokens / (median(cpu_s) / moe::num_threads()), median(fwd_s), median(bwd_s));
  std::printf(
      "  info: params %.2fM (experts %.2fM), FLOP/step %.1f G, ls_nll first %.3f last %.3f, "
      "moe dropped-frac %.3f\n",
      model.weights().numel() / 1e6, model.weights().numel(moe::MeshAxis::kExpert) / 1e6,
      flops / 1e9, first_loss, last_loss, dropped);
  std::printf("  gemm: measured SGEMM peak %.1f GFLOP/s (2048^3, same threads); GEMM efficiency %.0f%%\n",
              measured_sgemm_gflops(), 100.0 * flops / best / 1e9 / measured_sgemm_gflops());
  std::printf(
      "  memory: weights+grads %.0f MiB + activations (implied) %.0f MiB = %.0f MiB; "
      "measured max RSS %.0f MiB\n",
      weights_mib, act_mib, weights_mib + act_mib, max_rss_mib());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_model: forward+backward throughput of the whole Transformer (float)"};
  app.add_option("--config", o.config, "tiny, small, tiny-dense, small-dense or all")
      ->check(CLI::IsMember({"tiny", "small", "tiny-dense", "small-dense", "all"}));
  app.add_option("--threads", o.threads, "OpenMP / Eigen threads (0 = default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--steps", o.steps, "measured steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "unmeasured steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--batch", o.batch, "sentences per batch")->check(CLI::PositiveNumber);
  app.add_option("--src-len", o.src_len, "source length")->check(CLI::PositiveNumber);
  app.add_option("--tgt-len", o.tgt_len, "target length")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (o.threads > 0) moe::set_num_threads(o.threads);
  try {
    const std::vector<std::string> all = {"tiny-dense", "tiny", "small-dense", "small"};
    for (const std::string& c : all)
      if (o.config == "all" || o.config == c) run(c, o);
  } catch (const moe::InputError& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
