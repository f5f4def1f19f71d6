// The whole model: gradients vs finite differences (dense and MoE), causal
// masking, padding invariance, incremental decoding == full forward,
// determinism, input errors.
#include "model/transformer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/test_models.h"
#include "nn/grad_check.h"
#include "tensor/gemm.h"

namespace moe {
namespace {

using testing::check_gradient;
using testing::tiny_batch;
using testing::tiny_config;

struct GradientCase {
  int experts;
  NormType norm;
  int capacity = 64;  // 64: nothing dropped; 2: most second choices dropped
};

class TransformerGradientTest : public ::testing::TestWithParam<GradientCase> {};

// Every tensor (up to 6 elements each, spread over it) against central
// differences of the full loss, including dropout (a fixed stream per
// evaluation gives the same masks) and the MoE aux loss.
TEST_P(TransformerGradientTest, EveryTensorMatchesFiniteDifferences) {
  ModelConfig cfg = tiny_config(GetParam().experts);
  cfg.norm = GetParam().norm;
  cfg.moe.capacity = GetParam().capacity;
  Transformer<double> model(cfg, 3);
  const Batch batch = tiny_batch();
  auto loss = [&] {
    Rng rng(17);
    return model.forward(batch, true, rng).loss;
  };
  model.weights().zero_grads();
  Rng rng(17);
  const LossParts parts = model.forward(batch, true, rng);
  model.backward();
  // Capacity drops are decided by the order of top-1/top-2 choices, which
  // tiny perturbations do not change, so the loss stays differentiable.
  for (const MoeLayerReport& m : parts.moe)
    EXPECT_EQ(m.stats.dropped_first_fraction + m.stats.dropped_second_fraction > 0,
              GetParam().capacity < 8) << m.name;
  int moe_tensors = 0;
  for (const WeightInfo& w : model.weights().entries()) {
    TensorView<double> p = model.weights().param(w.name);
    TensorView<double> g = model.weights().grad(w.name);
    if (w.name.find(".moe.") != std::string::npos) ++moe_tensors;
    if (w.name == "embed") {  // the pad row is exactly zero and gets no lookup gradient,
      // but it does get the output projection's gradient: check all rows.
      EXPECT_GRADIENT_OK(check_gradient(loss, p.data(), g.data(), p.numel(), 40), w.name);
      continue;
    }
    EXPECT_GRADIENT_OK(check_gradient(loss, p.data(), g.data(), p.numel(), 6), w.name);
  }
  EXPECT_EQ(moe_tensors, GetParam().experts > 0 ? 6 : 0);  // enc + dec layer 1: wg, wi, wo
}

INSTANTIATE_TEST_SUITE_P(
    DenseMoeRms, TransformerGradientTest,
    ::testing::Values(GradientCase{0, NormType::kLayerNorm}, GradientCase{4, NormType::kLayerNorm},
                      GradientCase{4, NormType::kRmsNorm},
                      GradientCase{4, NormType::kLayerNorm, 2}),
    [](const auto& info) {
      return std::string(info.param.experts ? "moe_" : "dense_") + to_string(info.param.norm) +
             (info.param.capacity < 8 ? "_with_drops" : "");
    });

TEST(Transformer, LossPartsAreConsistent) {
  ModelConfig cfg = tiny_config(4);
  Transformer<double> model(cfg, 1);
  Rng rng(2);
  const LossParts parts = model.forward(tiny_batch(), false, rng);
  EXPECT_EQ(parts.tgt_tokens, 6);
  EXPECT_EQ(parts.src_tokens, 8);
  ASSERT_EQ(parts.moe.size(), 2u);
  EXPECT_EQ(parts.moe[0].name, "encoder.layer.1.moe");
  EXPECT_EQ(parts.moe[1].name, "decoder.layer.1.moe");
  EXPECT_NEAR(parts.aux, parts.moe[0].stats.aux_loss + parts.moe[1].stats.aux_loss, 1e-15);
  EXPECT_NEAR(parts.loss, parts.ls_nll + cfg.moe.aux_loss_coef * parts.aux, 1e-15);
  double load = 0;
  for (double f : parts.moe[0].stats.expert_load) load += f;
  EXPECT_NEAR(load, 1.0, 1e-12);
  // With a near-uniform initial model the loss is close to log V.
  EXPECT_NEAR(parts.nll, std::log(13.0), 1.0);
}

TEST(Transformer, BackwardAccumulates) {
  ModelConfig cfg = tiny_config(0);
  Transformer<double> model(cfg, 1);
  model.weights().zero_grads();
  Rng r1(5);
  model.forward(tiny_batch(), true, r1);
  model.backward();
  TensorView<double> g = model.weights().grads(MeshAxis::kReplicated);
  std::vector<double> once(g.data(), g.data() + g.numel());
  Rng r2(5);
  model.forward(tiny_batch(), true, r2);
  model.backward();
  for (std::int64_t i = 0; i < g.numel(); ++i) ASSERT_NEAR(g[i], 2 * once[i], 1e-12);
  EXPECT_THROW(model.backward(), InternalError);  // one backward per forward
}

class TransformerBehaviourTest : public ::testing::TestWithParam<int> {};

TEST_P(TransformerBehaviourTest, FutureTargetTokensDoNotChangeEarlierPositions) {
  ModelConfig cfg = tiny_config(GetParam());
  Transformer<double> model(cfg, 4);
  Batch batch = tiny_batch();
  const std::int64_t V = cfg.vocab, T = batch.tgt_len;
  Tensor<double> a(Shape{batch.batch * T, V}), b(a.shape());
  model.score(batch, a.view());
  batch.tgt_in[2] = 11;  // sentence 0, position 2
  model.score(batch, b.view());
  for (std::int64_t v = 0; v < 2 * V; ++v) EXPECT_NEAR(a[v], b[v], 1e-13) << v;  // positions 0,1
  double changed = 0;
  for (std::int64_t v = 2 * V; v < 3 * V; ++v) changed += std::abs(a[v] - b[v]);
  EXPECT_GT(changed, 1e-6);
  for (std::int64_t v = T * V; v < 2 * T * V; ++v) EXPECT_NEAR(a[v], b[v], 1e-13);  // sentence 1
}

TEST_P(TransformerBehaviourTest, PaddingDoesNotChangeRealTokens) {
  ModelConfig cfg = tiny_config(GetParam());
  Transformer<double> model(cfg, 5);
  const Batch batch = tiny_batch();
  // The same two sentences with two more pad columns on both sides and a
  // third, all-padding-target sentence.
  Batch padded;
  padded.batch = 3;
  padded.src_len = 7;
  padded.tgt_len = 6;
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t s = 0; s < 7; ++s)
      padded.src.push_back(b < 2 && s < 5 ? batch.src[b * 5 + s] : (b == 2 && s < 3 ? 6 : 0));
    for (std::int64_t t = 0; t < 6; ++t) {
      padded.tgt_in.push_back(b < 2 && t < 4 ? batch.tgt_in[b * 4 + t] : 0);
      padded.labels.push_back(b < 2 && t < 4 ? batch.labels[b * 4 + t] : 0);
    }
  }
  Rng r1(1), r2(1);
  const LossParts want = model.forward(batch, false, r1);
  const LossParts got = model.forward(padded, false, r2);
  EXPECT_EQ(got.tgt_tokens, want.tgt_tokens);
  EXPECT_NEAR(got.ls_nll, want.ls_nll, 1e-12);
  EXPECT_NEAR(got.nll, want.nll, 1e-12);
  Tensor<double> a(Shape{2 * 4, cfg.vocab}), b(Shape{3 * 6, cfg.vocab});
  model.score(batch, a.view());
  model.score(padded, b.view());
  for (std::int64_t s = 0; s < 2; ++s)
    for (std::int64_t t = 0; t < 4; ++t) {
      if (batch.tgt_in[s * 4 + t] == 0) continue;
      for (std::int64_t v = 0; v < cfg.vocab; ++v)
        EXPECT_NEAR(a[(s * 4 + t) * cfg.vocab + v], b[(s * 6 + t) * cfg.vocab + v], 1e-12);
    }
}

TEST_P(TransformerBehaviourTest, IncrementalDecodingEqualsFullForward) {
  ModelConfig cfg = tiny_config(GetParam());
  Transformer<double> model(cfg, 6);
  Batch batch = tiny_batch();
  batch.tgt_in = {1, 4, 5, 6, /**/ 1, 7, 8, 9};  // unpadded targets: every position is real
  const std::int64_t V = cfg.vocab, T = batch.tgt_len, K = 2;
  Tensor<double> full(Shape{2 * T, V});
  model.score(batch, full.view());

  // Two beams per sentence fed identical tokens; at t = 2 drop row 0 and swap
  // the others, so reorder's gather and drop are both exercised.
  EncoderOutput<double> enc = model.encode(batch.src.data(), 2, batch.src_len);
  DecoderState<double> st = model.start_decoding(enc, K);
  std::vector<std::int32_t> sentence_of_row = {0, 0, 1, 1};
  Tensor<double> lp(Shape{4, V});
  for (std::int64_t t = 0; t < T; ++t) {
    if (t == 2) {
      model.reorder(st, {3, 1, 2});
      sentence_of_row = {1, 0, 1};
    }
    std::vector<std::int32_t> tokens;
    for (std::int32_t s : sentence_of_row) tokens.push_back(batch.tgt_in[s * T + t]);
    lp.resize(Shape{st.rows, V});
    model.step(st, enc, tokens.data(), lp.view());
    for (std::int64_t r = 0; r < st.rows; ++r)
      for (std::int64_t v = 0; v < V; ++v)
        ASSERT_NEAR(lp[r * V + v], full[(sentence_of_row[r] * T + t) * V + v], 1e-11)
            << "t " << t << " row " << r;
  }
  EXPECT_EQ(st.step, T);
}

// reorder() works in place when rows do not fan out: a swap (a cycle whose
// sources must be saved before they are overwritten), a duplicated row and a
// row left where it is. The result must equal a state whose rows were fed
// the reordered histories from the start.
TEST_P(TransformerBehaviourTest, InPlaceReorderEqualsFeedingTheReorderedHistories) {
  ModelConfig cfg = tiny_config(GetParam());
  Transformer<double> model(cfg, 7);
  const Batch batch = tiny_batch();
  const std::int64_t V = cfg.vocab, K = 2, R = 4, steps = 5, at = 3;
  EncoderOutput<double> enc = model.encode(batch.src.data(), 2, batch.src_len);
  auto token = [](std::int64_t row, std::int64_t t) { return static_cast<std::int32_t>(3 + (row * 3 + t) % 9); };
  const std::vector<std::int32_t> order = {1, 0, 3, 3};  // sentences stay {0, 0, 1, 1}
  DecoderState<double> st = model.start_decoding(enc, K), ref = model.start_decoding(enc, K);
  Tensor<double> lp(Shape{R, V}), want(Shape{R, V});
  for (std::int64_t t = 0; t < steps; ++t) {
    if (t == at) model.reorder(st, order);
    std::vector<std::int32_t> tokens(R), ref_tokens(R);
    for (std::int64_t r = 0; r < R; ++r) {  // after the reorder row r carries row order[r]'s history
      tokens[r] = token(t < at ? r : order[r], t);
      ref_tokens[r] = token(order[r], t);
    }
    model.step(st, enc, tokens.data(), lp.view());
    model.step(ref, enc, ref_tokens.data(), want.view());
    if (t < at) continue;
    for (std::int64_t i = 0; i < R * V; ++i) ASSERT_NEAR(lp[i], want[i], 1e-12) << "t " << t << " at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(DenseAndMoe, TransformerBehaviourTest, ::testing::Values(0, 4),
                         [](const auto& info) {
                           return info.param ? std::string("moe") : std::string("dense");
                         });

TEST(Transformer, DecodingCacheGrowsPastItsInitialCapacity) {
  ModelConfig cfg = tiny_config(0);
  cfg.max_positions = 40;
  Transformer<double> model(cfg, 8);
  Batch batch;
  batch.batch = 1;
  batch.src_len = 3;
  batch.tgt_len = 20;  // > the initial cache capacity of 16
  batch.src = {4, 5, 6};
  for (int t = 0; t < 20; ++t) {
    batch.tgt_in.push_back(t == 0 ? 1 : 3 + t % 10);
    batch.labels.push_back(3);
  }
  Tensor<double> full(Shape{20, cfg.vocab}), lp(Shape{1, cfg.vocab});
  model.score(batch, full.view());
  EncoderOutput<double> enc = model.encode(batch.src.data(), 1, 3);
  DecoderState<double> st = model.start_decoding(enc, 1);
  for (int t = 0; t < 20; ++t) {
    model.step(st, enc, &batch.tgt_in[t], lp.view());
    for (int v = 0; v < cfg.vocab; ++v) ASSERT_NEAR(lp[v], full[t * cfg.vocab + v], 1e-11) << t;
  }
}

TEST(Transformer, SameSeedSameBitsDifferentSeedDifferentBits) {
  const ModelConfig cfg = tiny_config(4);
  Transformer<float> a(cfg, 42), b(cfg, 42), c(cfg, 43);
  TensorView<float> pa = a.weights().params(MeshAxis::kReplicated);
  TensorView<float> pb = b.weights().params(MeshAxis::kReplicated);
  TensorView<float> pc = c.weights().params(MeshAxis::kReplicated);
  EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), sizeof(float) * pa.numel()));
  EXPECT_NE(0, std::memcmp(pa.data(), pc.data(), sizeof(float) * pa.numel()));
  Rng ra(7), rb(7), rc(7);
  const LossParts la = a.forward(tiny_batch(), true, ra);
  const LossParts lb = b.forward(tiny_batch(), true, rb);
  const LossParts lc = c.forward(tiny_batch(), true, rc);
  EXPECT_EQ(la.loss, lb.loss);
  EXPECT_NE(la.loss, lc.loss);
  a.weights().zero_grads();
  b.weights().zero_grads();
  a.backward();
  b.backward();
  TensorView<float> ga = a.weights().grads(MeshAxis::kExpert);
  TensorView<float> gb = b.weights().grads(MeshAxis::kExpert);
  EXPECT_EQ(0, std::memcmp(ga.data(), gb.data(), sizeof(float) * ga.numel()));
  // A different dropout stream gives a different loss.
  Rng rd(8);
  EXPECT_NE(a.forward(tiny_batch(), true, rd).loss, la.loss);
}

TEST(Transformer, ModelWithoutGradientsScoresTheSameAndRefusesBackward) {
  // moe-translate builds its model without gradient buffers; everything it
  // runs must not notice, and training on it must fail loudly, not write
  // through empty views.
  const ModelConfig cfg = tiny_config(4);
  Transformer<float> trainable(cfg, 42), inference(cfg, 42, nullptr, Gradients::kNone);
  EXPECT_TRUE(trainable.weights().has_gradients());
  EXPECT_FALSE(inference.weights().has_gradients());
  EXPECT_THROW(inference.weights().grad("embed"), InternalError);
  EXPECT_THROW(inference.weights().grads(MeshAxis::kExpert), InternalError);
  const Batch batch = tiny_batch();
  const std::int64_t rows = batch.batch * batch.tgt_len;
  Tensor<float> a(Shape{rows, cfg.vocab}), b(Shape{rows, cfg.vocab});
  trainable.score(batch, a.view());
  inference.score(batch, b.view());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()));
  Rng ra(7), rb(7);
  EXPECT_EQ(trainable.forward(batch, true, ra).loss, inference.forward(batch, true, rb).loss);
  EXPECT_THROW(inference.backward(), InternalError);
}

TEST(Transformer, RejectsBadConfigsAndBatches) {
  ModelConfig cfg = tiny_config(0);
  cfg.d_model = 7;
  cfg.d_kv = 0;  // 7 is not divisible by 2 heads
  try {
    Transformer<float> bad(cfg, 1);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_kv"), std::string::npos) << e.what();
  }
  Transformer<float> model(tiny_config(0), 1);
  Rng rng(1);
  Batch batch = tiny_batch();
  batch.labels.pop_back();
  EXPECT_THROW(model.forward(batch, false, rng), InputError);
  batch = tiny_batch();
  batch.src[3] = 13;  // == vocab
  EXPECT_THROW(model.forward(batch, false, rng), InputError);
  batch = tiny_batch();
  batch.labels[0] = -1;
  EXPECT_THROW(model.forward(batch, false, rng), InputError);
}

}  // namespace
}  // namespace moe

namespace moe {
namespace {

// Big enough that the OpenMP and GEMM thresholds are crossed, so the parallel
// code paths really run; every reduction is split by columns or rows, never
// by thread, so the bits must not depend on the thread count.
TEST(Transformer, ResultsDoNotDependOnTheThreadCount) {
  ModelConfig cfg = testing::tiny_config(4);
  cfg.vocab = 300;
  cfg.d_model = 128;
  cfg.ffn_dim = 256;
  cfg.heads = 4;
  cfg.d_kv = 0;
  cfg.max_positions = 64;
  cfg.moe.group_size = 128;
  cfg.moe.capacity = 0;
  Batch batch;
  batch.batch = 8;
  batch.src_len = batch.tgt_len = 40;
  Rng data(3);
  for (int i = 0; i < 8 * 40; ++i) {
    batch.src.push_back(static_cast<std::int32_t>(3 + data.below(297)));
    batch.tgt_in.push_back(static_cast<std::int32_t>(3 + data.below(297)));
    batch.labels.push_back(static_cast<std::int32_t>(3 + data.below(297)));
  }
  const int saved = num_threads();
  std::vector<float> grads[2];
  double losses[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Transformer<float> model(cfg, 5);
    model.weights().zero_grads();
    Rng rng(9);
    losses[threads - 1] = model.forward(batch, true, rng).loss;
    model.backward();
    for (MeshAxis axis : {MeshAxis::kReplicated, MeshAxis::kExpert}) {
      TensorView<float> g = model.weights().grads(axis);
      grads[threads - 1].insert(grads[threads - 1].end(), g.data(), g.data() + g.numel());
    }
  }
  set_num_threads(saved);
  EXPECT_EQ(losses[0], losses[1]);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < grads[0].size(); ++i) differing += grads[0][i] != grads[1][i];
  EXPECT_EQ(differing, 0u);
}

}  // namespace
}  // namespace moe

namespace moe {
namespace {

// End to end: plain SGD on the gradients of backward() learns to copy short
// sequences (dense and MoE), as torchref's self-test checks its optimisers.
class TransformerLearningTest : public ::testing::TestWithParam<int> {};

TEST_P(TransformerLearningTest, SgdLearnsToCopy) {
  ModelConfig cfg = testing::tiny_config(GetParam());
  cfg.d_model = 16;
  cfg.ffn_dim = 32;
  cfg.d_kv = 0;
  cfg.dropout = cfg.attention_dropout = 0.0;
  cfg.label_smoothing = 0.0;
  Transformer<float> model(cfg, 11);
  Batch batch;
  batch.batch = 6;
  batch.src_len = batch.tgt_len = 5;
  Rng data(4);
  for (int s = 0; s < 6; ++s) {
    std::vector<std::int32_t> y(4);
    for (auto& t : y) t = static_cast<std::int32_t>(3 + data.below(10));
    batch.src.insert(batch.src.end(), y.begin(), y.end());
    batch.src.push_back(cfg.eos_id);
    batch.tgt_in.push_back(cfg.bos_id);
    batch.tgt_in.insert(batch.tgt_in.end(), y.begin(), y.end());
    batch.labels.insert(batch.labels.end(), y.begin(), y.end());
    batch.labels.push_back(cfg.eos_id);
  }
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    model.weights().zero_grads();
    Rng rng(1, "step", step);
    last = model.forward(batch, true, rng).nll;
    if (step == 0) first = last;
    model.backward();
    for (MeshAxis axis : {MeshAxis::kReplicated, MeshAxis::kExpert}) {
      TensorView<float> p = model.weights().params(axis), g = model.weights().grads(axis);
      for (std::int64_t i = 0; i < p.numel(); ++i) p[i] -= 0.5f * g[i];
    }
  }
  EXPECT_GT(first, 2.0);
  EXPECT_LT(last, 0.05) << "nll " << first << " -> " << last;
}

INSTANTIATE_TEST_SUITE_P(DenseAndMoe, TransformerLearningTest, ::testing::Values(0, 4),
                         [](const auto& info) {
                           return info.param ? std::string("moe") : std::string("dense");
                         });

}  // namespace
}  // namespace moe
