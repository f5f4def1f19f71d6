// Gradient checks of every layer against central finite differences in double,
// plus the behaviours the gradients cannot show (masks, padding, dropout).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/attention.h"
#include "nn/cross_entropy.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/ffn.h"
#include "nn/grad_check.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"

namespace moe {
namespace {

using testing::check_gradient;
using testing::dot;
using testing::fill_uniform;
using D = double;

TEST(GradCheck, CatchesADeliberatelyWrongGradient) {
  // loss = sum x_i^3 ; gradient 3 x_i^2. Perturb one analytic entry by 1e-4
  // (relative): the check must flag exactly that entry.
  std::vector<double> x = {0.3, -1.2, 0.7, 2.0};
  auto loss = [&] {
    double s = 0;
    for (double v : x) s += v * v * v;
    return s;
  };
  std::vector<double> grad(4);
  for (int i = 0; i < 4; ++i) grad[i] = 3 * x[i] * x[i];
  EXPECT_GRADIENT_OK(check_gradient(loss, x.data(), grad.data(), 4), "exact");
  grad[2] *= 1 + 1e-4;
  const auto bad = check_gradient(loss, x.data(), grad.data(), 4);
  EXPECT_EQ(bad.mismatches, 1);
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  Rng rng(1);
  Tensor<D> w(Shape{5, 3}), b(Shape{3}), gw(Shape{5, 3}), gb(Shape{3});
  Tensor<D> x(Shape{2, 4, 5}), y(Shape{2, 4, 3}), r(Shape{2, 4, 3}), dx(Shape{2, 4, 5});
  fill_uniform(w.view(), rng);
  fill_uniform(b.view(), rng);
  fill_uniform(x.view(), rng);
  fill_uniform(r.view(), rng);
  LinearParams<D> p{w.view(), b.view()}, g{gw.view(), gb.view()};
  auto loss = [&] {
    linear_forward<D>(p, x.view(), y.view());
    return dot(y.view(), r.view());
  };
  loss();
  linear_backward<D>(p, g, x.view(), r.view(), dx.view());
  EXPECT_GRADIENT_OK(check_gradient(loss, w.data(), gw.data(), w.numel()), "w");
  EXPECT_GRADIENT_OK(check_gradient(loss, b.data(), gb.data(), b.numel()), "b");
  EXPECT_GRADIENT_OK(check_gradient(loss, x.data(), dx.data(), x.numel()), "x");
  // backward accumulates: a second call doubles the parameter gradients.
  Tensor<D> gw2(gw.shape());
  gw2.view().copy_from(gw.view());
  linear_backward<D>(p, g, x.view(), r.view(), dx.view());
  for (std::int64_t i = 0; i < gw.numel(); ++i) EXPECT_NEAR(gw[i], 2 * gw2[i], 1e-12);
}

class LayerNormTest : public ::testing::TestWithParam<NormType> {};

TEST_P(LayerNormTest, GradientsMatchFiniteDifferences) {
  const NormType type = GetParam();
  const bool centred = type == NormType::kLayerNorm;
  Rng rng(2);
  const std::int64_t m = 7;
  Tensor<D> scale(Shape{m}), bias(Shape{m}), gs(Shape{m}), gbias(Shape{m});
  Tensor<D> x(Shape{3, m}), y(Shape{3, m}), r(Shape{3, m}), dx(Shape{3, m});
  fill_uniform(scale.view(), rng, 0.5, 1.5);
  fill_uniform(bias.view(), rng);
  fill_uniform(x.view(), rng, -2, 2);
  fill_uniform(r.view(), rng);
  NormParams<D> p{scale.view(), centred ? bias.view() : TensorView<D>()};
  NormParams<D> g{gs.view(), centred ? gbias.view() : TensorView<D>()};
  LayerNorm<D> ln(m, type, 1e-5);
  auto loss = [&] {
    ln.forward(p, x.view(), y.view());
    return dot(y.view(), r.view());
  };
  loss();
  ln.backward(p, g, r.view(), dx.view(), false);
  EXPECT_GRADIENT_OK(check_gradient(loss, x.data(), dx.data(), x.numel()), "x");
  EXPECT_GRADIENT_OK(check_gradient(loss, scale.data(), gs.data(), m), "scale");
  if (centred) {
    EXPECT_GRADIENT_OK(check_gradient(loss, bias.data(), gbias.data(), m), "bias");
  }
}

TEST_P(LayerNormTest, OutputIsNormalised) {
  const NormType type = GetParam();
  const std::int64_t m = 16;
  Tensor<D> scale(Shape{m}, 1.0), bias(Shape{m}, 0.0), x(Shape{2, m}), y(Shape{2, m});
  Rng rng(3);
  fill_uniform(x.view(), rng, 1, 5);
  LayerNorm<D> ln(m, type, 1e-6);
  ln.forward({scale.view(), type == NormType::kLayerNorm ? bias.view() : TensorView<D>()},
             x.view(), y.view());
  for (int r = 0; r < 2; ++r) {
    double mean = 0, sq = 0;
    for (int j = 0; j < m; ++j) {
      mean += y[r * m + j] / m;
      sq += y[r * m + j] * y[r * m + j] / m;
    }
    if (type == NormType::kLayerNorm) {
      EXPECT_NEAR(mean, 0.0, 1e-12);
    }
    EXPECT_NEAR(sq, 1.0, 1e-4);  // eps makes it slightly below 1
  }
}

INSTANTIATE_TEST_SUITE_P(Types, LayerNormTest,
                         ::testing::Values(NormType::kLayerNorm, NormType::kRmsNorm));

TEST(Embedding, ForwardScalesAndAddsPositionsBackwardSkipsPad) {
  const std::int64_t vocab = 6, m = 4, B = 2, L = 3;
  Rng rng(4);
  Tensor<D> table(Shape{vocab, m}), gtable(Shape{vocab, m}), y(Shape{B, L, m}), r(Shape{B, L, m});
  fill_uniform(table.view(), rng);
  fill_uniform(r.view(), rng);
  const Tensor<D> pe = sinusoid_positions<D>(8, m);
  const std::vector<std::int32_t> ids = {3, 0, 5, 3, 2, 0};  // 0 is the pad id
  const D scale = 2.0;
  auto loss = [&] {
    embed_forward<D>(table.view(), ids.data(), B, L, scale, pe.view(), 1, y.view());
    return dot(y.view(), r.view());
  };
  loss();
  EXPECT_DOUBLE_EQ(y[(1 * L + 2) * m + 1], table[0 * m + 1] * scale + pe[3 * m + 1]);
  embed_backward<D>(gtable.view(), ids.data(), B * L, scale, r.view(), 0);
  for (int j = 0; j < m; ++j) EXPECT_EQ(gtable[0 * m + j], 0.0);  // pad row untouched
  for (int j = 0; j < m; ++j) EXPECT_NEAR(gtable[3 * m + j], scale * (r[j] + r[3 * m + j]), 1e-14);
  // Rows other than pad match finite differences.
  auto check = check_gradient(loss, table.data() + m, gtable.data() + m, (vocab - 1) * m);
  EXPECT_GRADIENT_OK(check, "table");
}

TEST(Embedding, SinusoidTableMatchesFormula) {
  const Tensor<D> pe = sinusoid_positions<D>(5, 6);
  for (int p = 0; p < 5; ++p)
    for (int i = 0; i < 3; ++i) {
      const double w = std::exp(-std::log(10000.0) * 2 * i / 6);
      EXPECT_NEAR(pe[p * 6 + 2 * i], std::sin(p * w), 1e-15);
      EXPECT_NEAR(pe[p * 6 + 2 * i + 1], std::cos(p * w), 1e-15);
    }
}

TEST(Embedding, RejectsOutOfVocabularyIdsAndOverlongSequences) {
  Tensor<D> table(Shape{4, 2}), y(Shape{1, 2, 2});
  const Tensor<D> pe = sinusoid_positions<D>(2, 2);
  const std::vector<std::int32_t> bad = {1, 4};
  EXPECT_THROW(embed_forward<D>(table.view(), bad.data(), 1, 2, 1.0, pe.view(), 0, y.view()),
               InputError);
  const std::vector<std::int32_t> ok = {1, 2};
  EXPECT_THROW(embed_forward<D>(table.view(), ok.data(), 1, 2, 1.0, pe.view(), 1, y.view()),
               InputError);
}

TEST(FeedForward, GradientsMatchFiniteDifferencesWithDropout) {
  const std::int64_t m = 5, hidden = 7;
  Rng rng(5);
  Tensor<D> w1(Shape{m, hidden}), b1(Shape{hidden}), w2(Shape{hidden, m}), b2(Shape{m});
  Tensor<D> g1(w1.shape()), gb1(b1.shape()), g2(w2.shape()), gb2(b2.shape());
  Tensor<D> x(Shape{6, m}), y(Shape{6, m}), r(Shape{6, m}), dx(Shape{6, m});
  for (auto* t : {&w1, &b1, &w2, &b2, &x, &r}) fill_uniform(t->view(), rng);
  FfnParams<D> p{{w1.view(), b1.view()}, {w2.view(), b2.view()}};
  FfnParams<D> g{{g1.view(), gb1.view()}, {g2.view(), gb2.view()}};
  FeedForward<D> ffn(m, hidden, 0.3);
  auto loss = [&] {
    Rng drop(11);  // the same mask on every evaluation
    ffn.forward(p, x.view(), y.view(), true, drop);
    return dot(y.view(), r.view());
  };
  loss();
  ffn.backward(p, g, r.view(), dx.view(), false);
  EXPECT_GRADIENT_OK(check_gradient(loss, x.data(), dx.data(), x.numel()), "x");
  EXPECT_GRADIENT_OK(check_gradient(loss, w1.data(), g1.data(), w1.numel()), "w_in");
  EXPECT_GRADIENT_OK(check_gradient(loss, b1.data(), gb1.data(), b1.numel()), "b_in");
  EXPECT_GRADIENT_OK(check_gradient(loss, w2.data(), g2.data(), w2.numel()), "w_out");
  EXPECT_GRADIENT_OK(check_gradient(loss, b2.data(), gb2.data(), b2.numel()), "b_out");
}

TEST(Dropout, KeepsTheExpectedFractionScalesAndIsDeterministic) {
  Tensor<float> a(Shape{100000}, 1.0f), b(Shape{100000}, 1.0f);
  Dropout<float> d1(0.25), d2(0.25);
  Rng r1(9, "dropout"), r2(9, "dropout");
  d1.forward_inplace(a.view(), true, r1);
  d2.forward_inplace(b.view(), true, r2);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_EQ(a[i], b[i]);
    if (a[i] != 0) {
      ++kept;
      EXPECT_FLOAT_EQ(a[i], 1.0f / 0.75f);
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / a.numel(), 0.75, 0.01);
  // Evaluation is the identity.
  Tensor<float> c(Shape{10}, 2.0f);
  d1.forward_inplace(c.view(), false, r1);
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_EQ(c[i], 2.0f);
}

struct AttentionCase {
  AttentionKind kind;
  bool padding;
  double dropout;
};

void PrintTo(const AttentionCase& c, std::ostream* os) {
  const char* kinds[] = {"self", "causal", "cross"};
  *os << kinds[static_cast<int>(c.kind)] << (c.padding ? "+padding" : "") << " dropout "
      << c.dropout;
}

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, GradientsMatchFiniteDifferences) {
  const AttentionCase tc = GetParam();
  const bool cross = tc.kind == AttentionKind::kCross;
  const std::int64_t B = 2, Lq = 3, Lk = cross ? 4 : Lq, M = 6, heads = 2, dk = 4, hd = 8;
  AttentionConfig cfg{M, heads, dk, tc.kind, tc.dropout};
  Attention<D> attn(cfg);
  Rng rng(6);
  Tensor<D> wqkv(Shape{M, 3 * hd}), bqkv(Shape{3 * hd}), wq(Shape{M, hd}), bq(Shape{hd});
  Tensor<D> wkv(Shape{M, 2 * hd}), bkv(Shape{2 * hd}), wo(Shape{hd, M}), bo(Shape{M});
  std::vector<Tensor<D>*> params = {&wqkv, &bqkv, &wq, &bq, &wkv, &bkv, &wo, &bo};
  std::vector<Tensor<D>> grads;
  for (auto* t : params) {
    fill_uniform(t->view(), rng);
    grads.emplace_back(t->shape());
  }
  AttentionParams<D> p{{wqkv.view(), bqkv.view()}, {wq.view(), bq.view()},
                       {wkv.view(), bkv.view()}, {wo.view(), bo.view()}};
  AttentionParams<D> g{{grads[0].view(), grads[1].view()}, {grads[2].view(), grads[3].view()},
                       {grads[4].view(), grads[5].view()}, {grads[6].view(), grads[7].view()}};
  Tensor<D> x(Shape{B, Lq, M}), mem(Shape{B, Lk, M}), y(Shape{B, Lq, M}), r(Shape{B, Lq, M});
  Tensor<D> dx(x.shape()), dmem(mem.shape());
  fill_uniform(x.view(), rng);
  fill_uniform(mem.view(), rng);
  fill_uniform(r.view(), rng);
  std::vector<std::uint8_t> valid(B * Lk, 1);
  if (tc.padding) valid[1 * Lk + Lk - 1] = 0;  // last key of sentence 1 is padding
  auto loss = [&] {
    Rng drop(3);
    attn.forward(p, x.view(), mem.view(), tc.padding ? valid.data() : nullptr, y.view(), true,
                 drop);
    return dot(y.view(), r.view());
  };
  loss();
  attn.backward(p, g, r.view(), dx.view(), false, dmem.view());
  EXPECT_GRADIENT_OK(check_gradient(loss, x.data(), dx.data(), x.numel()), "x");
  if (cross) {
    EXPECT_GRADIENT_OK(check_gradient(loss, mem.data(), dmem.data(), mem.numel()), "memory");
    EXPECT_GRADIENT_OK(check_gradient(loss, wq.data(), grads[2].data(), wq.numel()), "wq");
    EXPECT_GRADIENT_OK(check_gradient(loss, bq.data(), grads[3].data(), bq.numel()), "bq");
    EXPECT_GRADIENT_OK(check_gradient(loss, wkv.data(), grads[4].data(), wkv.numel()), "wkv");
    EXPECT_GRADIENT_OK(check_gradient(loss, bkv.data(), grads[5].data(), bkv.numel()), "bkv");
  } else {
    EXPECT_GRADIENT_OK(check_gradient(loss, wqkv.data(), grads[0].data(), wqkv.numel()), "wqkv");
    EXPECT_GRADIENT_OK(check_gradient(loss, bqkv.data(), grads[1].data(), bqkv.numel()), "bqkv");
  }
  EXPECT_GRADIENT_OK(check_gradient(loss, wo.data(), grads[6].data(), wo.numel()), "wo");
  EXPECT_GRADIENT_OK(check_gradient(loss, bo.data(), grads[7].data(), bo.numel()), "bo");
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, AttentionTest,
    ::testing::Values(AttentionCase{AttentionKind::kSelf, false, 0.0},
                      AttentionCase{AttentionKind::kSelf, true, 0.2},
                      AttentionCase{AttentionKind::kCausalSelf, false, 0.0},
                      AttentionCase{AttentionKind::kCausalSelf, true, 0.2},
                      AttentionCase{AttentionKind::kCross, true, 0.0},
                      AttentionCase{AttentionKind::kCross, true, 0.2}));

// Random attention weights and inputs for the behavioural tests below.
struct AttentionFixture {
  static constexpr std::int64_t M = 8, heads = 2, dk = 3, hd = 6;
  Tensor<D> wqkv{Shape{M, 3 * hd}}, bqkv{Shape{3 * hd}}, wq{Shape{M, hd}}, bq{Shape{hd}},
      wkv{Shape{M, 2 * hd}}, bkv{Shape{2 * hd}}, wo{Shape{hd, M}}, bo{Shape{M}};
  AttentionFixture() {
    Rng rng(21);
    for (auto* t : {&wqkv, &bqkv, &wq, &bq, &wkv, &bkv, &wo, &bo}) fill_uniform(t->view(), rng);
  }
  AttentionParams<D> params() {
    return {{wqkv.view(), bqkv.view()}, {wq.view(), bq.view()}, {wkv.view(), bkv.view()},
            {wo.view(), bo.view()}};
  }
};

TEST(Attention, CausalOutputsIgnoreTheFuture) {
  AttentionFixture f;
  Attention<D> attn({f.M, f.heads, f.dk, AttentionKind::kCausalSelf, 0.0});
  const std::int64_t L = 5;
  Tensor<D> x(Shape{1, L, f.M}), y1(x.shape()), y2(x.shape());
  Rng rng(1);
  fill_uniform(x.view(), rng);
  attn.forward(f.params(), x.view(), {}, nullptr, y1.view(), false, rng);
  for (std::int64_t j = 0; j < f.M; ++j) x[3 * f.M + j] += 1.0;  // change position 3
  attn.forward(f.params(), x.view(), {}, nullptr, y2.view(), false, rng);
  for (std::int64_t i = 0; i < 3 * f.M; ++i) EXPECT_EQ(y1[i], y2[i]) << i;
  double changed = 0;
  for (std::int64_t i = 3 * f.M; i < L * f.M; ++i) changed += std::abs(y1[i] - y2[i]);
  EXPECT_GT(changed, 1e-3);
}

TEST(Attention, PaddedKeysDoNotChangeRealQueries) {
  AttentionFixture f;
  Attention<D> attn({f.M, f.heads, f.dk, AttentionKind::kSelf, 0.0});
  Tensor<D> x(Shape{1, 4, f.M}), y(x.shape()), xs(Shape{1, 3, f.M}), ys(xs.shape());
  Rng rng(2);
  fill_uniform(x.view(), rng);
  std::copy(x.data(), x.data() + 3 * f.M, xs.data());
  const std::vector<std::uint8_t> valid = {1, 1, 1, 0};
  attn.forward(f.params(), x.view(), {}, valid.data(), y.view(), false, rng);
  attn.forward(f.params(), xs.view(), {}, nullptr, ys.view(), false, rng);
  for (std::int64_t i = 0; i < 3 * f.M; ++i) EXPECT_NEAR(y[i], ys[i], 1e-13);
}

TEST(Attention, IncrementalStepsEqualTheFullForward) {
  AttentionFixture f;
  const std::int64_t B = 2, T = 4, S = 3;
  Attention<D> self({f.M, f.heads, f.dk, AttentionKind::kCausalSelf, 0.0});
  Attention<D> cross({f.M, f.heads, f.dk, AttentionKind::kCross, 0.0});
  Tensor<D> x(Shape{B, T, f.M}), mem(Shape{B, S, f.M}), ys(x.shape()), yc(x.shape());
  Rng rng(3);
  fill_uniform(x.view(), rng);
  fill_uniform(mem.view(), rng);
  const std::vector<std::uint8_t> valid = {1, 1, 1, 1, 1, 0};
  self.forward(f.params(), x.view(), {}, nullptr, ys.view(), false, rng);
  cross.forward(f.params(), x.view(), mem.view(), valid.data(), yc.view(), false, rng);

  Tensor<D> cache(Shape{B, T, 2 * f.hd}), mkv(Shape{B, S, 2 * f.hd});
  cross.project_memory(f.params(), mem.view(), mkv.view());
  const std::vector<std::int32_t> rows = {0, 1};
  Tensor<D> xt(Shape{B, f.M}), ot(Shape{B, f.M});
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b = 0; b < B; ++b)
      std::copy(x.data() + (b * T + t) * f.M, x.data() + (b * T + t + 1) * f.M,
                xt.data() + b * f.M);
    self.step_self(f.params(), xt.view(), cache.view(), t, ot.view());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < f.M; ++j)
        EXPECT_NEAR(ot[b * f.M + j], ys[(b * T + t) * f.M + j], 1e-12);
    cross.step_cross(f.params(), xt.view(), mkv.view(), rows.data(), valid.data(), ot.view());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < f.M; ++j)
        EXPECT_NEAR(ot[b * f.M + j], yc[(b * T + t) * f.M + j], 1e-12);
  }
}

// The float forward (16-lane sums over rows of 40: two full chunks and a
// partial one) against the double forward on the same numbers, both norms.
TEST(LayerNormFloat, MatchesDouble) {
  const std::int64_t rows = 3, d = 40;
  Rng rng(12);
  Tensor<float> xf(Shape{rows, d}), yf(xf.shape()), sf(Shape{d}), bf(Shape{d});
  Tensor<D> xd(xf.shape()), yd(xf.shape()), sd(Shape{d}), bd(Shape{d});
  for (auto [f, dd] : {std::pair{&xf, &xd}, std::pair{&sf, &sd}, std::pair{&bf, &bd}})
    for (std::int64_t i = 0; i < f->numel(); ++i) {
      (*f)[i] = static_cast<float>(3.0 * rng.uniform() - 1.0);  // mean far from 0
      (*dd)[i] = (*f)[i];
    }
  for (NormType type : {NormType::kLayerNorm, NormType::kRmsNorm}) {
    const bool bias = type == NormType::kLayerNorm;
    LayerNorm<float> lf(d, type, 1e-6);
    LayerNorm<D> ld(d, type, 1e-6);
    lf.forward({sf.view(), bias ? bf.view() : TensorView<float>()}, xf.view(), yf.view());
    ld.forward({sd.view(), bias ? bd.view() : TensorView<D>()}, xd.view(), yd.view());
    for (std::int64_t i = 0; i < xf.numel(); ++i) ASSERT_NEAR(yf[i], yd[i], 2e-5) << to_string(type) << " " << i;
  }
}

void float_attention_steps_equal_full_forward(std::int64_t dk);

// The float decoding step with 16-lane kernels (d_kv a multiple of 16):
// self-attention over more than one 16-key chunk plus a partial one, cross
// attention with padded keys and a sentence whose keys are all padding (a
// zero context), against the full-sequence float forward.
TEST(Attention, FloatVectorisedStepsEqualTheFullForward) {
  for (const std::int64_t dk : {16, 32}) {  // the general loop, the fixed-width kernel
    SCOPED_TRACE("d_kv " + std::to_string(dk));
    float_attention_steps_equal_full_forward(dk);
  }
}

void float_attention_steps_equal_full_forward(std::int64_t dk) {
  const std::int64_t M = 24, heads = 2, hd = heads * dk, B = 2, T = 19, S = 21;
  Rng rng(4);
  auto uniform = [&](Shape s) {
    Tensor<float> t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(rng.uniform() - 0.5);
    return t;
  };
  Tensor<float> wqkv = uniform(Shape{M, 3 * hd}), bqkv = uniform(Shape{3 * hd}),
                wq = uniform(Shape{M, hd}), bq = uniform(Shape{hd}), wkv = uniform(Shape{M, 2 * hd}),
                bkv = uniform(Shape{2 * hd}), wo = uniform(Shape{hd, M}), bo = uniform(Shape{M});
  const AttentionParams<float> p{{wqkv.view(), bqkv.view()}, {wq.view(), bq.view()},
                                 {wkv.view(), bkv.view()}, {wo.view(), bo.view()}};
  Attention<float> self({M, heads, dk, AttentionKind::kCausalSelf, 0.0});
  Attention<float> cross({M, heads, dk, AttentionKind::kCross, 0.0});
  Tensor<float> x = uniform(Shape{B, T, M}), mem = uniform(Shape{B, S, M});
  Tensor<float> ys(x.shape()), yc(x.shape());
  std::vector<std::uint8_t> valid(B * S, 1);
  for (std::int64_t s = 17; s < S; ++s) valid[s] = 0;          // sentence 0: 17 real keys
  for (std::int64_t s = 0; s < S; ++s) valid[S + s] = 0;       // sentence 1: none
  Rng unused(0);
  self.forward(p, x.view(), {}, nullptr, ys.view(), false, unused);
  cross.forward(p, x.view(), mem.view(), valid.data(), yc.view(), false, unused);

  Tensor<float> cache(Shape{B, T, 2 * hd}), mkv(Shape{B, S, 2 * hd});
  cross.project_memory(p, mem.view(), mkv.view());
  const std::vector<std::int32_t> rows = {0, 1};
  Tensor<float> xt(Shape{B, M}), ot(Shape{B, M});
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b = 0; b < B; ++b)
      std::copy(x.data() + (b * T + t) * M, x.data() + (b * T + t + 1) * M, xt.data() + b * M);
    self.step_self(p, xt.view(), cache.view(), t, ot.view());
    for (std::int64_t i = 0; i < B * M; ++i)
      ASSERT_NEAR(ot[i], ys[((i / M) * T + t) * M + i % M], 2e-5) << "self t=" << t;
    cross.step_cross(p, xt.view(), mkv.view(), rows.data(), valid.data(), ot.view());
    for (std::int64_t i = 0; i < B * M; ++i)
      ASSERT_NEAR(ot[i], yc[((i / M) * T + t) * M + i % M], 2e-5) << "cross t=" << t;
    for (std::int64_t j = 0; j < M; ++j) EXPECT_FLOAT_EQ(ot[M + j], bo[j]);  // zero context + bias
  }
}

// Naive reference: log-softmax of the full logits, torch's label smoothing.
double reference_smoothed_loss(const Tensor<D>& h, const Tensor<D>& emb,
                               const std::vector<std::int32_t>& labels, double eps, int pad,
                               double* nll_out) {
  const std::int64_t n = h.dim(0), m = h.dim(1), v = emb.dim(0);
  double total = 0, nll = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (labels[i] == pad) continue;
    std::vector<double> z(v);
    double mx = -1e300;
    for (std::int64_t k = 0; k < v; ++k) {
      for (std::int64_t j = 0; j < m; ++j) z[k] += h[i * m + j] * emb[k * m + j];
      mx = std::max(mx, z[k]);
    }
    double se = 0;
    for (double zk : z) se += std::exp(zk - mx);
    const double lse = mx + std::log(se);
    double mean_neg_logp = 0;
    for (double zk : z) mean_neg_logp += (lse - zk) / v;
    nll += lse - z[labels[i]];
    total += (1 - eps) * (lse - z[labels[i]]) + eps * mean_neg_logp;
  }
  *nll_out = nll;
  return total;
}

TEST(TiedSoftmaxCrossEntropy, MatchesReferenceAndFiniteDifferencesAcrossChunks) {
  const std::int64_t n = 7, m = 5, vocab = 11;
  Rng rng(8);
  Tensor<D> h(Shape{n, m}), emb(Shape{vocab, m}), dh(h.shape()), gemb(emb.shape());
  fill_uniform(h.view(), rng);
  fill_uniform(emb.view(), rng);
  const std::vector<std::int32_t> labels = {3, 0, 10, 1, 4, 0, 7};  // 0 = pad
  // chunk of 3 rows (33 elements): exercises a partial last chunk.
  TiedSoftmaxCrossEntropy<D> ce(0.1, 0, 3 * vocab);
  const CrossEntropySums sums = ce.forward(h.view(), emb.view(), labels.data(), true);
  double ref_nll = 0;
  const double ref = reference_smoothed_loss(h, emb, labels, 0.1, 0, &ref_nll);
  EXPECT_EQ(sums.tokens, 5);
  EXPECT_NEAR(sums.smoothed, ref, 1e-12);
  EXPECT_NEAR(sums.nll, ref_nll, 1e-12);
  ce.backward(0.5, dh.view(), gemb.view());
  auto loss = [&] {
    double unused;
    return 0.5 * reference_smoothed_loss(h, emb, labels, 0.1, 0, &unused);
  };
  EXPECT_GRADIENT_OK(check_gradient(loss, h.data(), dh.data(), h.numel()), "h");
  EXPECT_GRADIENT_OK(check_gradient(loss, emb.data(), gemb.data(), emb.numel()), "emb");
  const std::vector<std::int32_t> bad = {3, 0, 11, 1, 4, 0, 7};
  EXPECT_THROW(ce.forward(h.view(), emb.view(), bad.data(), false), InputError);
}

TEST(TiedSoftmaxCrossEntropy, LogProbsAreNormalised) {
  Rng rng(9);
  Tensor<D> h(Shape{2, 3}), emb(Shape{5, 3}), lp(Shape{2, 5});
  fill_uniform(h.view(), rng);
  fill_uniform(emb.view(), rng);
  tied_log_probs<D>(h.view(), emb.view(), lp.view());
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int v = 0; v < 5; ++v) s += std::exp(lp[r * 5 + v]);
    EXPECT_NEAR(s, 1.0, 1e-14);
  }
}

}  // namespace
}  // namespace moe
