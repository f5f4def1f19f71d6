// moe_times(): MoE layer time outside GEMMs, counted only while GEMM timing is on.
#include <gtest/gtest.h>

#include <chrono>

#include "moe/moe_layer.h"
#include "moe_test_util.h"

namespace moe {
namespace {

using testing::fill_uniform;
using testing::LayerWeights;

TEST(MoeTiming, RoutingIsCountedOnlyWhileGemmTimingIsOnAndFitsTheCallsWallTime) {
  const int M = 32, H = 24, E = 4, N = 300;
  MoeConfig cfg;
  cfg.num_experts = E;
  cfg.group_size = 64;
  Rng init(3);
  LayerWeights<float> w(M, H, E, E), g(M, H, E, E);
  w.randomise(init);
  Tensor<float> x(Shape{N, M}), y(Shape{N, M}), dy(Shape{N, M}), dx(Shape{N, M});
  fill_uniform(x, init, 1.0);
  fill_uniform(dy, init, 1.0);
  MoeLayer<float> layer(cfg, M, H, nullptr);
  Rng rng(4);
  auto step = [&] {
    layer.forward(w.params(), x.view(), nullptr, y.view(), true, rng);
    layer.backward(w.params(), g.params(), dy.view(), 0.1f, dx.view());
  };

  ASSERT_FALSE(gemm_timing());
  const MoeTimes off_before = moe_times();
  step();
  EXPECT_EQ(moe_times().routing, off_before.routing);

  set_gemm_timing(true);
  const MoeTimes before = moe_times();
  const double gemm_before = gemm_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) step();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set_gemm_timing(false);
  const MoeTimes after = moe_times();
  const double routing = after.routing - before.routing, gemms = gemm_seconds() - gemm_before;
  EXPECT_GT(routing, 0.0);
  EXPECT_GT(gemms, 0.0);
  EXPECT_LE(routing + gemms, wall * 1.0001);
  EXPECT_EQ(after.exchange, before.exchange);  // no expert axis: nothing exchanged
}

}  // namespace
}  // namespace moe
