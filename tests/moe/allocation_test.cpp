// Steady-state steps must not allocate: the layer's workspaces only grow.
// This file replaces the global operator new of the test_moe binary with a
// counting pass-through to malloc (counting only while a test asks for it).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "moe/moe_layer.h"
#include "moe_test_util.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* allocate(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace moe {
namespace {

using testing::fill_uniform;
using testing::LayerWeights;

TEST(MoeLayerAllocations, SteadyStateStepsAllocateOnlyTheReturnedStats) {
  const int M = 16, H = 12, E = 4, N = 50;
  MoeConfig cfg;
  cfg.num_experts = E;
  cfg.group_size = 16;
  cfg.second_expert_policy = SecondExpertPolicy::kRandom;
  Rng init(1);
  LayerWeights<float> w(M, H, E, E), g(M, H, E, E);
  w.randomise(init);
  Tensor<float> x(Shape{N, M}), y(Shape{N, M}), dy(Shape{N, M}), dx(Shape{N, M});
  fill_uniform(x, init, 1.0);
  fill_uniform(dy, init, 1.0);
  MoeLayer<float> layer(cfg, M, H, nullptr);
  Rng rng(2);
  // Warm-up, including a larger batch first: later, smaller steps reuse it.
  Tensor<float> big(Shape{2 * N, M}), big_y(Shape{2 * N, M}), big_dx(Shape{2 * N, M});
  fill_uniform(big, init, 1.0);
  layer.forward(w.params(), big.view(), nullptr, big_y.view(), true, rng);
  layer.backward(w.params(), g.params(), big_y.view(), 0.1f, big_dx.view());
  layer.forward(w.params(), x.view(), nullptr, y.view(), true, rng);
  layer.backward(w.params(), g.params(), dy.view(), 0.1f, dx.view());

  long forward_allocations = 0, backward_allocations = 0;
  {
    allocations = 0;
    counting = true;
    const MoeStats st = layer.forward(w.params(), x.view(), nullptr, y.view(), true, rng);
    counting = false;
    forward_allocations = allocations;
    EXPECT_EQ(st.expert_load.size(), static_cast<std::size_t>(E));
  }
  allocations = 0;
  counting = true;
  layer.backward(w.params(), g.params(), dy.view(), 0.1f, dx.view());
  counting = false;
  backward_allocations = allocations;
  EXPECT_EQ(forward_allocations, 1);  // MoeStats::expert_load
  EXPECT_EQ(backward_allocations, 0);

  // The counter does see the layer's allocations: a fresh layer makes many.
  MoeLayer<float> fresh(cfg, M, H, nullptr);
  allocations = 0;
  counting = true;
  fresh.forward(w.params(), x.view(), nullptr, y.view(), true, rng);
  counting = false;
  EXPECT_GT(allocations.load(), 10);
}

}  // namespace
}  // namespace moe
