#include <gtest/gtest.h>

#include "model/test_models.h"

namespace moe::testing {
namespace {

// Splits tiny_batch() into its two sentences.
Batch row(const Batch& b, std::int64_t r) {
  Batch one;
  one.batch = 1;
  one.src_len = b.src_len;
  one.tgt_len = b.tgt_len;
  one.src.assign(b.src.begin() + r * b.src_len, b.src.begin() + (r + 1) * b.src_len);
  one.tgt_in.assign(b.tgt_in.begin() + r * b.tgt_len, b.tgt_in.begin() + (r + 1) * b.tgt_len);
  one.labels.assign(b.labels.begin() + r * b.tgt_len, b.labels.begin() + (r + 1) * b.tgt_len);
  return one;
}

std::vector<double> grads(Transformer<double>& m) {
  std::vector<double> g;
  for (auto axis : {MeshAxis::kReplicated, MeshAxis::kExpert}) {
    auto v = m.weights().grads(axis);
    g.insert(g.end(), v.data(), v.data() + v.numel());
  }
  return g;
}

// Two shares of a batch, each weighted by the whole's token count (and half
// the aux weight, as two ranks averaging their aux), sum to the gradient of
// the whole batch: the data-parallel identity the trainer relies on. The aux
// loss is a mean over each share's own groups, so it is switched off here
// (and no token is dropped, so routing does not depend on the grouping); the
// aux weight is checked on its own below.
TEST(LossWeights, SharesOfABatchSumToTheWholeBatchGradient) {
  for (int experts : {0, 4}) {
    ModelConfig cfg = tiny_config(experts);
    cfg.dropout = cfg.attention_dropout = 0;  // masks would differ between the shapes
    cfg.moe.aux_loss_coef = 0;
    const Batch whole = tiny_batch();
    Transformer<double> a(cfg, 5), b(cfg, 5);
    Rng rng(1);
    const LossParts p = a.forward(whole, true, rng);
    a.backward();
    const std::vector<double> want = grads(a);
    for (std::int64_t r = 0; r < 2; ++r) {
      b.forward(row(whole, r), true, rng);
      b.backward(LossWeights{static_cast<double>(p.tgt_tokens), 0.5});
    }
    const std::vector<double> got = grads(b);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-12) << "experts " << experts << " i " << i;
  }
}

TEST(LossWeights, AuxScaleScalesOnlyTheAuxGradient) {
  ModelConfig cfg = tiny_config(4);
  cfg.dropout = cfg.attention_dropout = 0;
  Transformer<double> full(cfg, 5), half(cfg, 5), none(cfg, 5);
  Rng r1(1), r2(1), r3(1);
  full.forward(tiny_batch(), true, r1);
  full.backward();
  half.forward(tiny_batch(), true, r2);
  half.backward(LossWeights{0, 0.5});
  none.forward(tiny_batch(), true, r3);
  none.backward(LossWeights{0, 0});
  const auto g1 = grads(full), gh = grads(half), g0 = grads(none);
  double aux_part = 0;
  for (std::size_t i = 0; i < g1.size(); ++i) {
    // gradient = token part + aux_scale * aux part, linear in aux_scale
    EXPECT_NEAR(gh[i], 0.5 * (g1[i] + g0[i]), 1e-12);
    aux_part += std::abs(g1[i] - g0[i]);
  }
  EXPECT_GT(aux_part, 1e-8);  // the aux loss does reach the gate
}

}  // namespace
}  // namespace moe::testing
