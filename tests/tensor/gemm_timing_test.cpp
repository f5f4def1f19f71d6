// GEMM wall-time accounting (set_gemm_timing / gemm_seconds): off costs and
// counts nothing; on, it never counts more than the wall time of the calls,
// also when the calls run side by side on the threads of an OpenMP region.
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>

#include "tensor/gemm.h"
#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe {
namespace {

using Clock = std::chrono::steady_clock;

struct Operands {
  static constexpr std::int64_t n = 96;
  Tensor<float> a{Shape{n, n}}, b{Shape{n, n}};
  Operands() {
    Rng rng(5);
    for (std::int64_t i = 0; i < a.numel(); ++i) a[i] = static_cast<float>(rng.uniform_double()), b[i] = a[i] - 0.5f;
  }
  void multiply(Tensor<float>& c) const {
    gemm<float>(Trans::kNo, Trans::kYes, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  }
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(GemmTiming, OffByDefaultAndCountsNothingWhileOff) {
  ASSERT_FALSE(gemm_timing());
  const Operands op;
  Tensor<float> c(Shape{Operands::n, Operands::n});
  const double before = gemm_seconds();
  for (int i = 0; i < 20; ++i) op.multiply(c);
  EXPECT_EQ(gemm_seconds(), before);
}

TEST(GemmTiming, SerialCallsAddAtMostTheirWallTime) {
  const Operands op;
  Tensor<float> c(Shape{Operands::n, Operands::n});
  set_gemm_timing(true);
  const double before = gemm_seconds();
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) op.multiply(c);
  const double wall = seconds_since(start);
  set_gemm_timing(false);
  const double counted = gemm_seconds() - before;
  EXPECT_GT(counted, 0.0);
  EXPECT_LE(counted, wall);
}

TEST(GemmTiming, CallsInsideAParallelRegionAddTheirShareOfItsWallTime) {
  const Operands op;
  const int threads = 4;
  std::vector<Tensor<float>> outs;
  for (int t = 0; t < threads; ++t) outs.emplace_back(Shape{Operands::n, Operands::n});
  set_gemm_timing(true);
  const double before = gemm_seconds();
  const auto start = Clock::now();
#pragma omp parallel num_threads(threads)
  {
    for (int i = 0; i < 10; ++i) op.multiply(outs[omp_get_thread_num()]);
  }
  const double wall = seconds_since(start);
  set_gemm_timing(false);
  const double counted = gemm_seconds() - before;
  // Summing every thread's own time could reach threads x wall; each thread's
  // time over the team size sums to at most the slowest thread's time.
  EXPECT_GT(counted, 0.0);
  EXPECT_LE(counted, wall);
}

}  // namespace
}  // namespace moe
