// Transformer::backward's per-group callback, which the trainer uses to start
// gradient all-reduces while backward continues: every weight entry is in
// exactly one group, groups are reported in backward_gradient_groups() order,
// and a reported group's gradients are never written again in that backward.
#include <gtest/gtest.h>

#include <vector>

#include "model/test_models.h"

namespace moe::testing {
namespace {

TEST(BackwardGroups, ReportedGroupsAreFinalAndCoverEveryEntry) {
  for (int experts : {0, 4}) {
    ModelConfig cfg = tiny_config(experts);
    Transformer<double> model(cfg, 7);
    WeightTable<double>& w = model.weights();
    const auto groups = model.backward_gradient_groups();
    ASSERT_EQ(groups.size(), static_cast<std::size_t>(cfg.enc_layers + cfg.dec_layers + 3));
    std::vector<int> owner(w.entries().size(), -1);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_LT(groups[g].begin, groups[g].end) << "group " << g << " is empty";
      for (std::size_t e = groups[g].begin; e < groups[g].end; ++e) {
        EXPECT_EQ(owner[e], -1) << w.entries()[e].name << " in two groups";
        owner[e] = static_cast<int>(g);
      }
    }
    for (std::size_t e = 0; e < owner.size(); ++e) EXPECT_NE(owner[e], -1) << w.entries()[e].name;
    EXPECT_EQ(w.entries()[groups.front().begin].name, "decoder.ln.scale");
    EXPECT_EQ(w.entries()[groups.back().begin].name, "embed");

    // Snapshot each group's gradients when it is reported; backward must end
    // with exactly those values.
    auto copy_group = [&](std::size_t g) {
      std::vector<double> values;
      for (std::size_t e = groups[g].begin; e < groups[g].end; ++e) {
        TensorView<double> grad = w.grad(w.entries()[e].name);
        values.insert(values.end(), grad.data(), grad.data() + grad.numel());
      }
      return values;
    };
    Rng rng(3, "step", 0);
    model.forward(tiny_batch(), /*training=*/true, rng);
    w.zero_grads();
    std::vector<std::size_t> order;
    std::vector<std::vector<double>> at_report(groups.size());
    model.backward({}, [&](std::size_t g) {
      order.push_back(g);
      at_report[g] = copy_group(g);
    });
    ASSERT_EQ(order.size(), groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_EQ(order[g], g);
      const std::vector<double> final_values = copy_group(g);
      EXPECT_EQ(at_report[g], final_values) << "group " << g << " changed after it was reported";
      double norm = 0;
      for (double v : final_values) norm += v * v;
      EXPECT_GT(norm, 0.0) << "group " << g << " has no gradient (test would not see a late write)";
    }
  }
}

}  // namespace
}  // namespace moe::testing
