// Latency and bandwidth of the mesh collectives (all-reduce as the gradient
// sync uses it, all-to-all as the MoE dispatch/combine uses it) over message
// sizes, in the style of nccl-tests: algbw = bytes / time, busbw scales algbw
// by the traffic each rank really moves (2(n-1)/n for all-reduce, (n-1)/n for
// all-to-all), so that numbers compare across rank counts.
//
//   mpirun --oversubscribe -np 4 build/bin/bench_mesh [--mesh data=2,expert=2 --axis expert]
//          [--max-bytes 67108864] [--seconds 0.2]
//   (as root add --allow-run-as-root, or set OMPI_ALLOW_RUN_AS_ROOT=1 and
//    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
//
// Sizes are per rank: the all-reduce buffer, or the whole all-to-all send
// buffer (ranks * block). Each time is the slowest rank's mean per call.
//
// --mode step times whole training steps of a small MoE Transformer on the
// mesh instead (what bench/scale_bench.sh runs for weak scaling):
//
//   mpirun --oversubscribe -np 4 build/bin/bench_mesh --mode step [--mesh expert=4]
//          [--experts-per-rank 2] [--d-model 64] [--ffn 256] [--layers 2] [--heads 4]
//          [--vocab 1000] [--batch 8] [--src-len 16] [--tgt-len 16] [--steps 5]
//          [--warmup 1] [--overlap on|off] [--bucket-mb 4] [--threads 1]
//
// Each rank builds the model with E = experts-per-rank x (expert-axis size)
// experts, sharded along "expert", and trains on its own random batch of
// `batch` sentences (fixed tokens per rank: weak scaling), Adafactor, the
// gradient all-reduce of the trainer (train::ModelGradientSync, overlapped
// with backward or not). It prints one "STEP key=value ..." line on rank 0:
// step time and its parts (median over steps of the slowest rank), per step
// the all-to-all and all-reduce calls, buffer MiB and seconds spent in them
// (Collectives::traffic, slowest rank), and per rank the parameters, expert
// parameters and peak RSS (VmHWM; max and min over ranks).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "config/recipe.h"
#include "mesh/mesh.h"
#include "mesh/metrics_reduce.h"
#include "mesh/run_on_mesh.h"
#include "model/transformer.h"
#include "tensor/gemm.h"
#include "train/model_gradient_sync.h"
#include "train/optimizer.h"
#include "util/error.h"
#include "util/rng.h"

namespace {

struct BenchOptions {
  std::string mode = "collectives";  // or "step"
  std::string mesh;  // default: one axis "world" (collectives) or "expert" (step) over all ranks
  std::string axis;  // default: the mesh's whole world
  std::size_t max_bytes = 64u << 20;
  double seconds = 0.2;  // time budget per (operation, size)
  // --mode step
  int experts_per_rank = 2, d_model = 64, ffn = 256, layers = 2, heads = 4, vocab = 1000;
  int batch = 8, src_len = 16, tgt_len = 16, steps = 5, warmup = 1, threads = 1;
  bool overlap = true;
  double bucket_mb = 4;
};

BenchOptions parse_options(int argc, char** argv) {
  BenchOptions o;
  const std::vector<std::pair<std::string, int*>> ints = {
      {"--experts-per-rank", &o.experts_per_rank}, {"--d-model", &o.d_model}, {"--ffn", &o.ffn},
      {"--layers", &o.layers}, {"--heads", &o.heads}, {"--vocab", &o.vocab}, {"--batch", &o.batch},
      {"--src-len", &o.src_len}, {"--tgt-len", &o.tgt_len}, {"--steps", &o.steps},
      {"--warmup", &o.warmup}, {"--threads", &o.threads}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc)
      throw moe::InputError("option " + flag + " needs a value (see bench/mesh_bench.cpp)");
    const std::string value = argv[++i];
    try {
      const auto as_int = std::find_if(ints.begin(), ints.end(),
                                       [&](const auto& entry) { return entry.first == flag; });
      if (as_int != ints.end()) {
        *as_int->second = std::stoi(value);
        if (*as_int->second < (flag == "--warmup" ? 0 : 1))
          throw moe::InputError("option " + flag + " must be positive, got " + value);
      } else if (flag == "--mode") {
        if (value != "collectives" && value != "step")
          throw moe::InputError("option --mode: '" + value + "' is neither collectives nor step");
        o.mode = value;
      } else if (flag == "--overlap") {
        if (value != "on" && value != "off")
          throw moe::InputError("option --overlap: '" + value + "' is neither on nor off");
        o.overlap = value == "on";
      } else if (flag == "--mesh") o.mesh = value;
      else if (flag == "--axis") o.axis = value;
      else if (flag == "--max-bytes") o.max_bytes = std::stoull(value);
      else if (flag == "--seconds") o.seconds = std::stod(value);
      else if (flag == "--bucket-mb") o.bucket_mb = std::stod(value);
      else
        throw moe::InputError("unknown option " + flag + " (see bench/mesh_bench.cpp)");
    } catch (const std::logic_error&) {  // stoi / stoull / stod
      throw moe::InputError("option " + flag + ": '" + value + "' is not a number");
    }
  }
  if (o.seconds <= 0) throw moe::InputError("option --seconds must be positive");
  if (o.bucket_mb <= 0) throw moe::InputError("option --bucket-mb must be positive");
  return o;
}

// Mean seconds per call of `op` on the slowest rank of `group`, on rank 0 of
// the group (0 elsewhere). Rank 0 picks the iteration count from one timed
// call, so that every rank loops the same number of times.
template <typename Op>
double time_per_call(moe::Collectives& group, double budget_seconds, Op op) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) op();  // warm-up: connections, page faults
  group.barrier();
  auto start = clock::now();
  op();
  double first = std::chrono::duration<double>(clock::now() - start).count();
  group.broadcast(&first, sizeof first, 0);
  const int iterations =
      std::clamp(static_cast<int>(budget_seconds / std::max(first, 1e-7)), 5, 100000);
  group.barrier();
  start = clock::now();
  for (int i = 0; i < iterations; ++i) op();
  const double mine = std::chrono::duration<double>(clock::now() - start).count() / iterations;
  const double values[] = {mine};
  const moe::MetricReduction how[] = {moe::MetricReduction::kMax};
  const std::vector<double> slowest = moe::reduce_metrics_to_root(group, values, how, 0);
  return slowest.empty() ? 0.0 : slowest[0];
}

std::string human_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.0f %s", value, units[unit]);
  return text;
}

int run_bench(moe::MpiRuntime& runtime, const BenchOptions& options) {
  const moe::MeshSpec spec = options.mesh.empty()
                                 ? moe::MeshSpec{{{"world", runtime.world_size()}}}
                                 : moe::parse_mesh_spec(options.mesh);
  moe::Mesh mesh(runtime, spec);
  moe::Collectives& group = options.axis.empty() ? mesh.world() : mesh.axis(options.axis);
  const int n = group.size();
  const bool print = mesh.rank() == 0;
  if (print) {
    std::printf("# bench_mesh: %d ranks, mesh %s, group %s (%d ranks)\n", mesh.size(),
                spec.to_string().c_str(), options.axis.empty() ? "world" : options.axis.c_str(),
                n);
    if (!mesh.uses_mpi())
      std::printf("# one process, no MPI: run as mpirun --oversubscribe -np 4 %s\n", "bench_mesh");
    std::printf("%-11s %12s %12s %12s %12s\n", "op", "bytes/rank", "time_us", "algbw_GB/s",
                "busbw_GB/s");
  }
  for (std::size_t bytes = 1024; bytes <= options.max_bytes; bytes *= 4) {
    const std::size_t floats = bytes / sizeof(float);
    std::vector<float> grads(floats, 1.0f);
    const double reduce_s = time_per_call(group, options.seconds, [&] {
      group.all_reduce_sum(grads.data(), grads.size());
    });
    const std::size_t block = std::max<std::size_t>(1, floats / static_cast<std::size_t>(n));
    std::vector<float> send(block * n, 1.0f), recv(block * n);
    const double a2a_s = time_per_call(group, options.seconds, [&] {
      group.all_to_all(send.data(), recv.data(), block);
    });
    if (!print) continue;
    if (n == 1) {  // no communication: bandwidth would be a division by ~0
      std::printf("%-11s %12s %12.1f %12s %12s\n", "all_reduce", human_bytes(bytes).c_str(),
                  reduce_s * 1e6, "-", "-");
      std::printf("%-11s %12s %12.1f %12s %12s\n", "all_to_all",
                  human_bytes(block * sizeof(float)).c_str(), a2a_s * 1e6, "-", "-");
      continue;
    }
    const double reduce_alg = static_cast<double>(bytes) / reduce_s / 1e9;
    const double a2a_bytes = static_cast<double>(block * n * sizeof(float));
    const double a2a_alg = a2a_bytes / a2a_s / 1e9;
    const double ring = 2.0 * (n - 1) / n;
    const double spread = (n - 1.0) / n;
    std::printf("%-11s %12s %12.1f %12.3f %12.3f\n", "all_reduce", human_bytes(bytes).c_str(),
                reduce_s * 1e6, reduce_alg, reduce_alg * ring);
    std::printf("%-11s %12s %12.1f %12.3f %12.3f\n", "all_to_all",
                human_bytes(block * n * sizeof(float)).c_str(), a2a_s * 1e6, a2a_alg,
                a2a_alg * spread);
    std::fflush(stdout);
  }
  return 0;
}

// ---- --mode step -----------------------------------------------------------

// This process's peak resident set (VmHWM), MiB; 0 if /proc is unreadable.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

// Random sentences of full length (no padding): every rank the same shapes,
// different tokens.
moe::Batch random_batch(const BenchOptions& o, std::uint64_t rank) {
  moe::Rng rng(11, "bench-batch", rank);
  moe::Batch b;
  b.batch = o.batch;
  b.src_len = o.src_len;
  b.tgt_len = o.tgt_len;
  auto token = [&] { return static_cast<std::int32_t>(3 + rng.below(o.vocab - 3)); };
  for (int i = 0; i < o.batch * o.src_len; ++i) b.src.push_back(token());
  for (int i = 0; i < o.batch * o.tgt_len; ++i) b.labels.push_back(token());
  for (int s = 0; s < o.batch; ++s) {
    b.tgt_in.push_back(1);  // bos
    b.tgt_in.insert(b.tgt_in.end(), b.labels.begin() + s * o.tgt_len,
                    b.labels.begin() + (s + 1) * o.tgt_len - 1);
  }
  return b;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int run_steps(moe::MpiRuntime& runtime, const BenchOptions& o) {
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
  };
  moe::set_num_threads(o.threads);
  const moe::MeshSpec spec = o.mesh.empty()
                                 ? moe::MeshSpec{{{"expert", runtime.world_size()}}}
                                 : moe::parse_mesh_spec(o.mesh);
  moe::Mesh mesh(runtime, spec);
  int expert_ranks = 1;
  for (const auto& [name, size] : spec.axes)
    if (name == "expert") expert_ranks = size;
  moe::ModelConfig cfg;
  cfg.vocab = o.vocab;
  cfg.d_model = o.d_model;
  cfg.ffn_dim = o.ffn;
  cfg.heads = o.heads;
  cfg.enc_layers = cfg.dec_layers = o.layers;
  cfg.max_positions = std::max(o.src_len, o.tgt_len);
  cfg.dropout = 0;
  cfg.moe.num_experts = o.experts_per_rank * expert_ranks;
  cfg.moe.group_size = o.batch * std::max(o.src_len, o.tgt_len);  // one group per rank and stack
  moe::Transformer<float> model(cfg, 5, expert_ranks > 1 ? &mesh.axis("expert") : nullptr);
  moe::WeightTable<float>& w = model.weights();
  std::vector<moe::train::ParamRef> params;
  for (const moe::WeightInfo& info : w.entries())
    params.push_back({info.name, w.param(info.name), w.grad(info.name),
                      info.axis == moe::MeshAxis::kExpert ? 1 : 0});
  const auto optimizer = moe::train::make_optimizer(moe::config::OptimizerConfig{}, params);
  std::unique_ptr<moe::train::ModelGradientSync> sync;
  if (mesh.size() > 1) {
    moe::train::ModelGradientSyncOptions so;
    so.overlap = o.overlap;
    so.reduce.bucket_bytes = static_cast<std::size_t>(o.bucket_mb * (1 << 20));
    sync = std::make_unique<moe::train::ModelGradientSync>(mesh, model, so);
  }
  const moe::Batch batch = random_batch(o, static_cast<std::uint64_t>(mesh.rank()));
  const moe::LossWeights weights{0, 1.0 / mesh.size()};

  // Per measured step, this rank's seconds: step, forward, backward, sync
  // (finish), optimizer, in all-to-all, in all-reduce.
  std::vector<double> step_s, fwd_s, bwd_s, sync_s, opt_s, a2a_s, ar_s;
  moe::CollectiveStats per_step;  // the last measured step's traffic
  double loss = 0;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    mesh.world().barrier();  // steps start together: the slowest rank sets the pace
    mesh.reset_traffic();
    moe::Rng rng(3, "step", static_cast<std::uint64_t>(s));
    const auto t0 = clock::now();
    loss = model.forward(batch, true, rng).loss;
    const double f = since(t0);
    const auto t1 = clock::now();
    model.backward(weights, sync ? sync->on_group_final() : std::function<void(std::size_t)>{});
    const double b = since(t1);
    const auto t2 = clock::now();
    if (sync) sync->finish();
    const double r = since(t2);
    const auto t3 = clock::now();
    optimizer->update(params, 1e-3, s);
    w.zero_grads();
    const double u = since(t3);
    if (s < o.warmup) continue;
    per_step = mesh.traffic();
    step_s.push_back(since(t0));
    fwd_s.push_back(f), bwd_s.push_back(b), sync_s.push_back(r), opt_s.push_back(u);
    a2a_s.push_back(per_step.all_to_all.seconds);
    ar_s.push_back(per_step.all_reduce.seconds);
  }
  // The bench's own barrier and the log reductions are not part of a step.
  const double values[] = {median(step_s), median(fwd_s), median(bwd_s), median(sync_s),
                           median(opt_s),  median(a2a_s), median(ar_s),  peak_rss_mib(),
                           peak_rss_mib(), loss};
  using R = moe::MetricReduction;
  const R how[] = {R::kMax, R::kMax, R::kMax, R::kMax, R::kMax,
                   R::kMax, R::kMax, R::kMax, R::kMin, R::kMean};
  const std::vector<double> v = moe::reduce_metrics_to_root(mesh.world(), values, how, 0);
  if (mesh.rank() != 0) return 0;
  const double mib = 1.0 / (1 << 20);
  const int n_expert = expert_ranks;
  std::printf(
      "STEP ranks=%d mesh=%s E=%d experts_per_rank=%d threads=%d overlap=%s buckets=%zu "
      "tokens_per_rank=%d params_per_rank=%lld expert_params_per_rank=%lld "
      "step_s=%.4f fwd_s=%.4f bwd_s=%.4f sync_s=%.4f opt_s=%.4f "
      "a2a_calls=%llu a2a_MiB=%.3f a2a_offrank_MiB=%.3f a2a_s=%.4f a2a_share=%.3f "
      "ar_calls=%llu ar_MiB=%.3f ar_s=%.4f rss_max_MiB=%.1f rss_min_MiB=%.1f loss=%.6f\n",
      mesh.size(), spec.to_string().c_str(), cfg.moe.num_experts, o.experts_per_rank,
      moe::num_threads(), o.overlap ? "on" : "off", sync ? sync->num_buckets() : std::size_t{0},
      o.batch * (o.src_len + o.tgt_len), static_cast<long long>(w.numel()),
      static_cast<long long>(w.numel(moe::MeshAxis::kExpert)), v[0], v[1], v[2], v[3], v[4],
      static_cast<unsigned long long>(per_step.all_to_all.calls), per_step.all_to_all.bytes * mib,
      per_step.all_to_all.bytes * mib * (n_expert - 1) / n_expert, v[5], v[0] > 0 ? v[5] / v[0] : 0,
      static_cast<unsigned long long>(per_step.all_reduce.calls), per_step.all_reduce.bytes * mib,
      v[6], v[7], v[8], v[9]);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return moe::run_on_mesh("bench_mesh", [&](moe::MpiRuntime& runtime) {
    const BenchOptions options = parse_options(argc, argv);
    return options.mode == "step" ? run_steps(runtime, options) : run_bench(runtime, options);
  });
}
