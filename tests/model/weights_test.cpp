#include "model/weights.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/test_models.h"
#include "model/transformer.h"

namespace moe {
namespace {

TEST(WeightTable, NamesShapesAxesAndFlatBuffers) {
  const ModelConfig cfg = testing::tiny_config(4);
  Transformer<float> model(cfg, 1);
  WeightTable<float>& w = model.weights();
  EXPECT_EQ(w.info("embed").shape, (Shape{13, 8}));
  EXPECT_EQ(w.info("encoder.layer.0.attn.qkv.w").shape, (Shape{8, 18}));
  EXPECT_EQ(w.info("decoder.layer.0.cross.kv.w").shape, (Shape{8, 12}));
  EXPECT_EQ(w.info("decoder.layer.0.ffn.in.w").shape, (Shape{8, 12}));
  EXPECT_EQ(w.info("decoder.layer.1.moe.wi").shape, (Shape{4, 8, 12}));
  EXPECT_EQ(w.info("decoder.layer.1.moe.wi").axis, MeshAxis::kExpert);
  EXPECT_EQ(w.info("decoder.layer.1.moe.wg").axis, MeshAxis::kReplicated);
  EXPECT_FALSE(w.contains("decoder.layer.1.ffn.in.w"));
  EXPECT_THROW(w.info("nope"), InternalError);
  std::int64_t replicated = 0, expert = 0;
  for (const WeightInfo& e : w.entries())
    (e.axis == MeshAxis::kExpert ? expert : replicated) += e.shape.numel();
  EXPECT_EQ(w.numel(MeshAxis::kReplicated), replicated);
  EXPECT_EQ(w.numel(MeshAxis::kExpert), expert);
  EXPECT_EQ(expert, 2 * (4 * 8 * 12 * 2));
  // Each axis's tensors tile its flat buffer exactly, in registration order,
  // so (grads(axis).data(), numel(axis)) covers every gradient of the axis.
  for (MeshAxis axis : {MeshAxis::kReplicated, MeshAxis::kExpert}) {
    TensorView<float> flat = w.params(axis);
    EXPECT_EQ(flat.numel(), w.numel(axis));
    EXPECT_EQ(w.grads(axis).numel(), w.numel(axis));
    std::int64_t next = 0;
    for (const WeightInfo& e : w.entries()) {
      if (e.axis != axis) continue;
      EXPECT_EQ(e.offset, next) << e.name;
      EXPECT_EQ(w.param(e.name).data(), flat.data() + next) << e.name;
      next += e.shape.numel();
    }
    EXPECT_EQ(next, flat.numel());
  }
}

TEST(WeightTable, InitialisersFollowTheirSpecs) {
  const ModelConfig cfg = testing::tiny_config(4);
  Transformer<double> model(cfg, 1);
  WeightTable<double>& w = model.weights();
  TensorView<double> embed = w.param("embed");
  for (int j = 0; j < 8; ++j) EXPECT_EQ(embed[cfg.pad_id * 8 + j], 0.0);  // pad row
  TensorView<double> scale = w.param("encoder.ln.scale"), bias = w.param("encoder.ln.bias");
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(scale[j], 1.0);
    EXPECT_EQ(bias[j], 0.0);
  }
  TensorView<double> wo = w.param("encoder.layer.1.moe.wo");  // U(+-sqrt(3/H)), H = 12
  double max_abs = 0, sum_sq = 0;
  for (std::int64_t i = 0; i < wo.numel(); ++i) {
    max_abs = std::max(max_abs, std::abs(wo[i]));
    sum_sq += wo[i] * wo[i];
  }
  EXPECT_LE(max_abs, std::sqrt(3.0 / 12));
  EXPECT_NEAR(sum_sq / wo.numel(), 1.0 / 12, 0.02);  // variance 1/fan_in
}

TEST(WeightTable, ExpertShardsDrawTheSameNumbersAsTheWholeTensor) {
  WeightTable<float> whole, shard;
  whole.add({"moe.wi", Shape{4, 3, 5}, Init::kUniform, 0.5, MeshAxis::kExpert, 0});
  shard.add({"moe.wi", Shape{2, 3, 5}, Init::kUniform, 0.5, MeshAxis::kExpert, 2});  // rank 1 of 2
  whole.allocate();
  shard.allocate();
  whole.initialize(9);
  shard.initialize(9);
  TensorView<float> a = whole.param("moe.wi"), b = shard.param("moe.wi");
  for (std::int64_t i = 0; i < b.numel(); ++i) EXPECT_EQ(b[i], a[2 * 15 + i]);
}

TEST(WeightTable, RejectsDuplicatesAndLateAdds) {
  WeightTable<float> w;
  w.add({"a", Shape{2}, Init::kOnes, 0});
  EXPECT_THROW(w.add({"a", Shape{3}, Init::kOnes, 0}), InternalError);
  w.allocate();
  EXPECT_THROW(w.add({"b", Shape{3}, Init::kOnes, 0}), InternalError);
  w.grad("a")[0] = 5;
  w.zero_grads();
  EXPECT_EQ(w.grad("a")[0], 0.0f);
}

}  // namespace
}  // namespace moe
