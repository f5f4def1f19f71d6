// Forward and backward time of one MoE layer (lib/moe/moe_layer.h) in float,
// single process, at the two sizes the PyTorch reference is run at:
//   big   M=512 H=2048 E=16 S=1024, N=4096 tokens
//   small M=256 H=1024 E=8  S=1024, N=4096 tokens
//
//   build/bin/bench_moe [--threads 2] [--iters 3] [--config big|small|all]
//                       [--capacity-factor 2.0] [--policy all|random|threshold]
//                       [--expert-gemms auto|batched|per-expert]
//
// GFLOP/s counts the nominal work as bench/torchref does: per real token
// 2 * (2 experts * 2 M H + M E) forward, twice that backward. "rows" is the
// share of the batched expert GEMM rows (E * fullest expert) that held a
// token; "gemm" says whether the layer ran them batched or per expert.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "moe/moe_layer.h"
#include "tensor/gemm.h"
#include "util/error.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Size {
  const char* name;
  std::int64_t M, H, E, S, N;
};

struct Options {
  int threads = 0;  // 0 = OpenMP's default
  int iters = 3;
  std::string config = "all";
  double capacity_factor = 2.0;
  std::string policy = "all";
  std::string expert_gemms = "auto";
};

void fill(moe::Tensor<float>& t, moe::Rng& rng, double limit) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(limit * (2 * rng.uniform_double() - 1));
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void run(const Size& z, const Options& o) {
  moe::MoeConfig cfg;
  cfg.num_experts = static_cast<int>(z.E);
  cfg.group_size = static_cast<int>(z.S);
  cfg.capacity_factor = o.capacity_factor;
  cfg.second_expert_policy = moe::parse_second_expert_policy(o.policy);
  moe::MoeLayer<float> layer(cfg, z.M, z.H, nullptr);
  layer.set_expert_gemms(o.expert_gemms == "batched"      ? moe::ExpertGemms::kBatched
                         : o.expert_gemms == "per-expert" ? moe::ExpertGemms::kPerExpert
                                                          : moe::ExpertGemms::kAuto);

  moe::Rng init(1);
  // lingvo's init: uniform with variance 1/fan_in (GSHARD.md §2.3).
  moe::Tensor<float> wg(moe::Shape{z.M, z.E}), wi(moe::Shape{z.E, z.M, z.H}), wo(moe::Shape{z.E, z.H, z.M});
  moe::Tensor<float> gwg(wg.shape()), gwi(wi.shape()), gwo(wo.shape());
  fill(wg, init, std::sqrt(3.0 / z.M));
  fill(wi, init, std::sqrt(3.0 / z.M));
  fill(wo, init, std::sqrt(3.0 / z.H));
  moe::Tensor<float> x(moe::Shape{z.N, z.M}), y(x.shape()), dy(x.shape()), dx(x.shape());
  fill(x, init, 1.0);
  fill(dy, init, 1.0);
  const moe::MoeLayer<float>::Params p{wg.view(), wi.view(), wo.view()};
  const moe::MoeLayer<float>::Params g{gwg.view(), gwi.view(), gwo.view()};

  std::vector<double> fwd, bwd;
  moe::MoeStats st;
  moe::Rng rng(2);
  for (int it = 0; it <= o.iters; ++it) {  // iteration 0 warms up the workspaces
    auto t0 = Clock::now();
    st = layer.forward(p, x.view(), nullptr, y.view(), true, rng);
    const double f = seconds_since(t0);
    t0 = Clock::now();
    layer.backward(p, g, dy.view(), 0.01f, dx.view());
    const double b = seconds_since(t0);
    if (it > 0) {
      fwd.push_back(f);
      bwd.push_back(b);
    }
  }
  std::sort(fwd.begin(), fwd.end());
  std::sort(bwd.begin(), bwd.end());
  const double f_med = fwd[fwd.size() / 2], b_med = bwd[bwd.size() / 2];
  const double flops_fwd = 2.0 * st.tokens * (2.0 * 2 * z.M * z.H + z.M * z.E);
  const double used_rows = static_cast<double>(layer.filled_expert_rows());
  const double rows = static_cast<double>(z.E * layer.expert_rows());
  std::printf("%-6s %5lld %5lld %3lld %5lld %5lld %4lld %9.1f %9.1f %8.1f %8.1f %6.3f %6.3f %s\n", z.name,
              static_cast<long long>(z.M), static_cast<long long>(z.H), static_cast<long long>(z.E),
              static_cast<long long>(z.S), static_cast<long long>(z.N),
              static_cast<long long>(layer.capacity()), 1e3 * f_med, 1e3 * b_med,
              flops_fwd / f_med * 1e-9, 2 * flops_fwd / b_med * 1e-9,
              rows > 0 ? used_rows / rows : 0.0, st.dropped_fraction,
              layer.expert_gemms_batched() ? "batched" : "per-expert");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_moe: forward/backward time of one GShard MoE layer (float)"};
  app.add_option("--threads", o.threads, "OpenMP / Eigen threads (0 = default)")->check(CLI::NonNegativeNumber);
  app.add_option("--iters", o.iters, "timed iterations after one warm-up (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--config", o.config, "big, small or all")->check(CLI::IsMember({"big", "small", "all"}));
  app.add_option("--capacity-factor", o.capacity_factor, "training capacity factor (C = ceil(S*cf/E))")
      ->check(CLI::PositiveNumber);
  app.add_option("--policy", o.policy, "second-expert policy")
      ->check(CLI::IsMember({"all", "random", "threshold"}));
  app.add_option("--expert-gemms", o.expert_gemms, "auto, batched or per-expert")
      ->check(CLI::IsMember({"auto", "batched", "per-expert"}));
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.threads > 0) moe::set_num_threads(o.threads);
    const Size sizes[] = {{"big", 512, 2048, 16, 1024, 4096}, {"small", 256, 1024, 8, 1024, 4096}};
    std::printf("threads %d, policy %s, capacity factor %.2f, median of %d\n", moe::num_threads(),
                o.policy.c_str(), o.capacity_factor, o.iters);
    std::printf("%-6s %5s %5s %3s %5s %5s %4s %9s %9s %8s %8s %6s %6s %s\n", "config", "M", "H", "E", "S",
                "N", "C", "fwd_ms", "bwd_ms", "fwd_GF/s", "bwd_GF/s", "rows", "drop", "gemm");
    for (const Size& z : sizes)
      if (o.config == "all" || o.config == z.name) run(z, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_moe: %s\n", e.what());
    return 1;
  }
  return 0;
}
