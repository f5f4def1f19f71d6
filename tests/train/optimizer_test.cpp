#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <string>

#include "train/schedule.h"

namespace moe::train {
namespace {

// Expected values below come from a direct transcription of GSHARD.md §6.1's
// Adafactor pseudo-code (double precision, element by element), evaluated
// once and pasted here; the first case is also easy by hand: at t = 0 the
// decay is 0, so V = g^2 + eps1 and U = sign(g), RMS(U) = 1 (no clipping),
// and the step is lr * RMS(w) = 0.01 * sqrt((1 + 4) / 2) = 0.0158113883.

struct Param {
  Tensor<float> w, g;
  Param(Shape s, std::vector<float> values) : w(s), g(s) {
    for (std::size_t i = 0; i < values.size(); ++i) w[i] = values[i];
  }
  ParamRef ref(const std::string& name, int batch_dims = 0) {
    return ParamRef{name, w.view(), g.view(), batch_dims};
  }
  void set_grad(const std::vector<float>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) g[i] = values[i];
  }
};

config::OptimizerConfig adafactor_config() {
  config::OptimizerConfig c;
  c.name = config::OptimizerKind::kAdafactor;
  return c;
}

TEST(Adafactor, FirstStepOnVectorIsParameterScaledSign) {
  Param p(Shape{2}, {1.0f, -2.0f});
  std::vector<ParamRef> params = {p.ref("v")};
  auto opt = make_optimizer(adafactor_config(), params);
  p.set_grad({0.5f, 0.1f});
  opt->update(params, 0.01, 0);
  EXPECT_NEAR(p.w[0], 0.9841886116991581, 1e-6);
  EXPECT_NEAR(p.w[1], -2.015811388300842, 1e-6);
  p.set_grad({0.2f, -0.4f});
  opt->update(params, 0.01, 1);  // decay 1 - 2^-0.8 mixes the statistics now
  EXPECT_NEAR(p.w[0], 0.9753690736175509, 1e-6);
  EXPECT_NEAR(p.w[1], -1.9953497409153682, 1e-6);
}

TEST(Adafactor, FactoredMatrixMatchesReference) {
  config::OptimizerConfig cfg = adafactor_config();
  cfg.min_dim_size_to_factor = 2;  // factor this 2x3 matrix
  Param p(Shape{2, 3}, {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f});
  std::vector<ParamRef> params = {p.ref("m")};
  auto opt = make_optimizer(cfg, params);
  ASSERT_EQ(opt->state().size(), 2u);  // row and column statistics, not a full matrix
  EXPECT_EQ(opt->state()[0].tensor.shape(), (Shape{1, 2}));
  EXPECT_EQ(opt->state()[1].tensor.shape(), (Shape{1, 3}));
  p.set_grad({0.3f, -0.1f, 0.05f, 0.2f, 0.4f, -0.6f});
  opt->update(params, 0.1, 0);
  p.set_grad({0.1f, 0.2f, -0.3f, 0.0f, 0.05f, 0.5f});
  opt->update(params, 0.1, 1);
  const double want[] = {0.23670167621183608, -1.06751683164849,  0.32758449813716156,
                         1.9467847031954622,  -0.11040536959537274, -0.7455996707371557};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(p.w[i], want[i], 2e-6) << i;
}

TEST(Adafactor, MomentumMatchesReference) {
  config::OptimizerConfig cfg = adafactor_config();
  cfg.min_dim_size_to_factor = 2;
  cfg.beta1 = 0.9;
  Param p(Shape{2, 3}, {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f});
  std::vector<ParamRef> params = {p.ref("m")};
  auto opt = make_optimizer(cfg, params);
  p.set_grad({0.3f, -0.1f, 0.05f, 0.2f, 0.4f, -0.6f});
  opt->update(params, 0.1, 0);
  p.set_grad({0.1f, 0.2f, -0.3f, 0.0f, 0.05f, 0.5f});
  opt->update(params, 0.1, 1);
  const double want[] = {0.45659107233290835, -1.0024896601127882, 0.25656957685559606,
                         1.9899158688137004,  -0.01945616417967197, -0.741456616543636};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(p.w[i], want[i], 2e-6) << i;
}

TEST(Adafactor, SmallDimensionsAreNotFactored) {
  Param p(Shape{2, 3}, {0, 0, 0, 0, 0, 0});
  std::vector<ParamRef> params = {p.ref("m")};
  auto opt = make_optimizer(adafactor_config(), params);  // min dim 128 > 2
  ASSERT_EQ(opt->state().size(), 1u);
  EXPECT_EQ(opt->state()[0].tensor.shape(), (Shape{2, 3}));
}

TEST(Adafactor, EachExpertIsFactoredOnItsOwn) {
  // An [E=2, 2, 3] expert tensor with batch_dims 1 must update exactly like
  // two separate [2, 3] parameters.
  config::OptimizerConfig cfg = adafactor_config();
  cfg.min_dim_size_to_factor = 2;
  const std::vector<float> w0 = {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f,
                                 1.5f, 0.1f,  -0.2f, 0.3f, 0.9f, -1.25f};
  const std::vector<float> g0 = {0.3f, -0.1f, 0.05f, 0.2f, 0.4f, -0.6f,
                                 -0.7f, 0.2f, 0.01f, 0.3f, -0.2f, 0.1f};
  Param experts(Shape{2, 2, 3}, w0);
  experts.set_grad(g0);
  std::vector<ParamRef> batched = {experts.ref("experts", 1)};
  auto opt = make_optimizer(cfg, batched);
  opt->update(batched, 0.1, 0);

  for (int e = 0; e < 2; ++e) {
    Param one(Shape{2, 3}, std::vector<float>(w0.begin() + 6 * e, w0.begin() + 6 * e + 6));
    one.set_grad(std::vector<float>(g0.begin() + 6 * e, g0.begin() + 6 * e + 6));
    std::vector<ParamRef> single = {one.ref("one")};
    auto opt1 = make_optimizer(cfg, single);
    opt1->update(single, 0.1, 0);
    for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(experts.w[6 * e + i], one.w[i]);
  }
}

TEST(Adafactor, UpdateIsTheSameOnAnyNumberOfThreads) {
  // The threads share out whole matrices, so every sum keeps its order and
  // the result is bit-identical on 1 and 4 threads (the recipe's seed must fix
  // the loss curve whatever train.threads is). Sizes mix factored matrices,
  // a batched expert tensor and vectors, so the largest-first schedule runs.
  config::OptimizerConfig cfg = adafactor_config();
  cfg.beta1 = 0.9;
  const std::vector<Shape> shapes = {Shape{160, 130}, Shape{4, 64, 48}, Shape{130}, Shape{8, 200}};
  auto run = [&](int threads) {
    std::vector<Param> ps;
    for (const Shape& s : shapes) {
      std::vector<float> w(s.numel()), g(s.numel());
      for (std::int64_t i = 0; i < s.numel(); ++i) {
        w[i] = std::sin(0.37 * i + s.rank());
        g[i] = 0.01f * std::cos(1.3 * i) + (i % 7 == 0 ? 0.5f : 0.0f);
      }
      ps.emplace_back(s, w);
      ps.back().set_grad(g);
    }
    std::vector<ParamRef> refs;
    for (std::size_t i = 0; i < ps.size(); ++i)
      refs.push_back(ps[i].ref("p" + std::to_string(i), shapes[i].rank() == 3 ? 1 : 0));
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    auto opt = make_optimizer(cfg, refs);
    for (int step = 0; step < 3; ++step) opt->update(refs, 0.01, step);
    omp_set_num_threads(saved);
    std::vector<float> out;
    for (auto& p : ps) out.insert(out.end(), p.w.data(), p.w.data() + p.w.numel());
    return out;
  };
  const std::vector<float> one = run(1), four = run(4);
  ASSERT_EQ(one.size(), four.size());
  for (std::size_t i = 0; i < one.size(); ++i) ASSERT_EQ(one[i], four[i]) << "element " << i;
}

TEST(Adafactor, UpdateClippingBoundsTheStep) {
  // Factored statistics can make RMS(U) > 1; after clipping the applied step
  // has RMS exactly lr * scale * clip_threshold.
  config::OptimizerConfig cfg = adafactor_config();
  cfg.min_dim_size_to_factor = 2;
  cfg.multiply_by_parameter_scale = false;
  cfg.clip_threshold = 0.5;
  Param p(Shape{2, 2}, {0, 0, 0, 0});
  std::vector<ParamRef> params = {p.ref("m")};
  auto opt = make_optimizer(cfg, params);
  p.set_grad({1.0f, 1e-3f, 1e-3f, 1.0f});
  opt->update(params, 1.0, 0);
  double ss = 0;
  for (int i = 0; i < 4; ++i) ss += double(p.w[i]) * p.w[i];
  EXPECT_NEAR(std::sqrt(ss / 4), 0.5, 1e-5);
}

TEST(Adafactor, ClipThresholdZeroMeansNoClipping) {
  // As train.clip_norm: 0 = off; it once made every update zero (RMS / 0 = inf).
  const auto step = [](double threshold) {
    config::OptimizerConfig cfg = adafactor_config();
    cfg.min_dim_size_to_factor = 2;
    cfg.multiply_by_parameter_scale = false;
    cfg.clip_threshold = threshold;
    Param p(Shape{2, 2}, {0, 0, 0, 0});
    std::vector<ParamRef> params = {p.ref("m")};
    auto opt = make_optimizer(cfg, params);
    p.set_grad({1.0f, 1e-3f, 1e-3f, 1.0f});
    opt->update(params, 1.0, 0);
    return std::vector<float>(p.w.data(), p.w.data() + 4);
  };
  const std::vector<float> off = step(0), unbounded = step(1e9);
  EXPECT_EQ(off, unbounded);
  EXPECT_NE(off, std::vector<float>(4, 0.0f));
}

TEST(Adam, FirstStepIsLearningRateTimesSign) {
  config::OptimizerConfig cfg;
  cfg.name = config::OptimizerKind::kAdam;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.98;
  cfg.eps = 1e-9;
  Param p(Shape{3}, {1.0f, 2.0f, 3.0f});
  std::vector<ParamRef> params = {p.ref("v")};
  auto opt = make_optimizer(cfg, params);
  p.set_grad({0.5f, -0.25f, 2.0f});
  opt->update(params, 0.1, 0);  // bias correction makes m̂ = g, v̂ = g²
  EXPECT_NEAR(p.w[0], 0.9, 1e-6);
  EXPECT_NEAR(p.w[1], 2.1, 1e-6);
  EXPECT_NEAR(p.w[2], 2.9, 1e-6);
  // Second step by hand for w[0]: m = 0.9*0.05 + 0.1*0.5 = 0.095, m̂ = 0.095/0.19 = 0.5;
  // v = 0.98*0.005 + 0.02*0.25 = 0.0099, v̂ = 0.0099/0.0396 = 0.25: step 0.1 * 0.5/0.5.
  opt->update(params, 0.1, 1);
  EXPECT_NEAR(p.w[0], 0.8, 1e-6);
}

TEST(Adam, WeightDecayIsDecoupledOnlyForAdamW) {
  config::OptimizerConfig cfg;
  cfg.beta1 = 0.9;
  cfg.weight_decay = 0.1;
  cfg.name = config::OptimizerKind::kAdamW;
  Param a(Shape{1}, {2.0f});
  std::vector<ParamRef> pa = {a.ref("a")};
  auto adamw = make_optimizer(cfg, pa);
  a.set_grad({0.5f});
  adamw->update(pa, 0.1, 0);
  EXPECT_NEAR(a.w[0], 2.0 - 0.1 * (1.0 + 0.1 * 2.0), 1e-6);  // sign step + lr*wd*w

  cfg.name = config::OptimizerKind::kAdam;  // L2: the decay enters the gradient, then Adam normalises it
  Param b(Shape{1}, {2.0f});
  std::vector<ParamRef> pb = {b.ref("b")};
  auto adam = make_optimizer(cfg, pb);
  b.set_grad({0.5f});
  adam->update(pb, 0.1, 0);
  EXPECT_NEAR(b.w[0], 2.0 - 0.1, 1e-6);
}

TEST(GradientNorm, SumsSquaresAndScales) {
  Param p(Shape{2}, {0, 0}), q(Shape{1}, {0});
  p.set_grad({3.0f, 4.0f});
  q.set_grad({12.0f});
  std::vector<ParamRef> params = {p.ref("p"), q.ref("q")};
  EXPECT_DOUBLE_EQ(grad_squared_norm(params), 169.0);
  scale_grads(params, 0.5f);
  EXPECT_FLOAT_EQ(p.g[1], 2.0f);
  EXPECT_FLOAT_EQ(q.g[0], 6.0f);
}

TEST(Schedule, RsqrtPlateauIsGShards) {
  config::OptimizerConfig opt;  // lr 1.0
  config::ScheduleConfig s;     // rsqrt_plateau, warmup 10000
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 0), 0.01);
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 10000), 0.01);
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 40000), 0.005);
}

TEST(Schedule, InverseSqrtRampsLinearlyThenDecays) {
  config::OptimizerConfig opt;
  opt.lr = 2.0;
  config::ScheduleConfig s;
  s.name = config::ScheduleKind::kInverseSqrt;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 0), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 3), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 15), 1.0);
  s.name = config::ScheduleKind::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(opt, s, 123), 2.0);
}

}  // namespace
}  // namespace moe::train
