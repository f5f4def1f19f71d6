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
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "mesh/mesh.h"
#include "mesh/metrics_reduce.h"
#include "mesh/run_on_mesh.h"
#include "util/error.h"

namespace {

struct BenchOptions {
  std::string mesh;  // default: one axis "world" over all ranks
  std::string axis;  // default: the mesh's whole world
  std::size_t max_bytes = 64u << 20;
  double seconds = 0.2;  // time budget per (operation, size)
};

BenchOptions parse_options(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc)
      throw moe::InputError("option " + flag + " needs a value (see bench/mesh_bench.cpp)");
    const std::string value = argv[++i];
    try {
      if (flag == "--mesh") o.mesh = value;
      else if (flag == "--axis") o.axis = value;
      else if (flag == "--max-bytes") o.max_bytes = std::stoull(value);
      else if (flag == "--seconds") o.seconds = std::stod(value);
      else
        throw moe::InputError("unknown option " + flag +
                              " (known: --mesh, --axis, --max-bytes, --seconds)");
    } catch (const std::logic_error&) {  // stoull / stod
      throw moe::InputError("option " + flag + ": '" + value + "' is not a number");
    }
  }
  if (o.seconds <= 0) throw moe::InputError("option --seconds must be positive");
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

}  // namespace

int main(int argc, char** argv) {
  return moe::run_on_mesh("bench_mesh", [&](moe::MpiRuntime& runtime) {
    return run_bench(runtime, parse_options(argc, argv));
  });
}
