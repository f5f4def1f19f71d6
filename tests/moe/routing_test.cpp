// route_group on hand-checked numbers (GSHARD.md §3.3 worked example), the
// aux loss under even routing, and the config helpers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "moe/moe_config.h"
#include "moe/moe_layer.h"
#include "util/error.h"

namespace moe {
namespace {

const std::vector<double> kWorkedGates = {
    .60, .30, .10,  // t0
    .50, .10, .40,  // t1
    .70, .20, .10,  // t2
    .20, .50, .30,  // t3
    .10, .30, .60,  // t4
    .45, .35, .20,  // t5
};

TEST(RouteGroup, ReproducesTheWorkedExampleOfGshardMd) {
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  RoutingRule rule;  // top-2, policy all
  route_group<double>(kWorkedGates.data(), nullptr, 6, 3, /*C=*/2, rule, nullptr, r.data(), sm);

  struct Want {
    int e1;
    std::int64_t pos1;
    bool kept1;
    double w1;
    int e2;
    std::int64_t pos2;
    bool kept2;
    double w2;
  };
  const Want want[6] = {
      {0, 0, true, 0.6667, 1, 1, true, 0.3333},  {0, 1, true, 0.5556, 2, 1, true, 0.4444},
      {0, 2, false, 0, 1, 2, false, 0},          {1, 0, true, 0.6250, 2, 2, false, 0},
      {2, 0, true, 0.6667, 1, 3, false, 0},      {0, 3, false, 0, 1, 4, false, 0},
  };
  for (int t = 0; t < 6; ++t) {
    SCOPED_TRACE("token " + std::to_string(t));
    EXPECT_EQ(r[t].expert[0], want[t].e1);
    EXPECT_EQ(r[t].position[0], want[t].pos1);
    EXPECT_EQ(r[t].kept[0], want[t].kept1);
    EXPECT_NEAR(r[t].weight[0], want[t].w1, 5e-5);
    EXPECT_EQ(r[t].expert[1], want[t].e2);
    EXPECT_EQ(r[t].position[1], want[t].pos2);
    EXPECT_EQ(r[t].kept[1], want[t].kept2);
    EXPECT_NEAR(r[t].weight[1], want[t].w2, 5e-5);
  }
  // Gates are normalised before dropping and never renormalised: t3 keeps 0.625 alone.
  EXPECT_NEAR(r[3].gate[1], 0.375, 1e-9);
  EXPECT_NEAR(sm.aux, 1.1375, 1e-9);
  EXPECT_EQ(sm.top1_count, (std::vector<std::int64_t>{4, 1, 1}));
  EXPECT_EQ(sm.filled, (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(sm.dropped_first, 2);
  EXPECT_EQ(sm.dropped_second, 4);
  EXPECT_EQ(sm.fully_dropped, 2);
  EXPECT_NEAR(sm.gate_sum[0] / 6, 0.4250, 1e-9);
  EXPECT_NEAR(sm.gate_sum[1] / 6, 0.29167, 1e-5);
}

TEST(RouteGroup, WorkedExampleInFloatGivesTheSameDecisions) {
  std::vector<float> gates(kWorkedGates.begin(), kWorkedGates.end());
  std::vector<TokenRoute<float>> r(6);
  GroupRoutingSummary sm;
  route_group<float>(gates.data(), nullptr, 6, 3, 2, RoutingRule{}, nullptr, r.data(), sm);
  EXPECT_NEAR(sm.aux, 1.1375, 1e-6);
  EXPECT_TRUE(r[3].kept[0] && !r[3].kept[1]);
  EXPECT_NEAR(r[1].weight[1], 0.4444f, 5e-5);
}

TEST(RouteGroup, PaddingIsNeverDispatchedNorCounted) {
  // t2 and t5 (both fully dropped above) become padding: now everything fits.
  const std::uint8_t nonpad[6] = {1, 1, 0, 1, 1, 0};
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  route_group<double>(kWorkedGates.data(), nonpad, 6, 3, 2, RoutingRule{}, nullptr, r.data(), sm);
  EXPECT_EQ(r[2].expert[0], -1);
  EXPECT_FALSE(r[2].kept[0] || r[2].kept[1]);
  EXPECT_EQ(r[2].weight[0], 0.0);
  EXPECT_EQ(sm.real_tokens, 4);
  EXPECT_EQ(sm.top1_count, (std::vector<std::int64_t>{2, 1, 1}));
  // t4's second choice (expert 1) now sits behind t3's first choice and t0's second.
  EXPECT_EQ(r[4].position[1], 2);
  EXPECT_FALSE(r[4].kept[1]);
  EXPECT_EQ(sm.fully_dropped, 0);
  // Aux over the 4 real tokens only: E * sum_e (c_e/4)(sum of their gates/4).
  const double m0 = (.60 + .50 + .20 + .10) / 4, m1 = (.30 + .10 + .50 + .30) / 4,
               m2 = (.10 + .40 + .30 + .60) / 4;
  EXPECT_NEAR(sm.aux, 3 * (0.5 * m0 + 0.25 * m1 + 0.25 * m2), 1e-12);
}

TEST(RouteGroup, ThresholdPolicyKeepsOnlyConfidentSecondChoices) {
  RoutingRule rule;
  rule.policy = SecondExpertPolicy::kThreshold;
  rule.threshold = 0.4;  // second gates: .333 .444 .222 .375 .333 .4375
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  route_group<double>(kWorkedGates.data(), nullptr, 6, 3, /*C=*/3, rule, nullptr, r.data(), sm);
  const bool selected[6] = {false, true, false, false, false, true};
  for (int t = 0; t < 6; ++t) EXPECT_EQ(r[t].selected2, selected[t]) << "token " << t;
  // Skipped second choices take no slot: t5's second (expert 1) is the first second
  // choice on expert 1, behind the one kept first choice t3.
  EXPECT_EQ(r[5].position[1], 1);
  EXPECT_TRUE(r[5].kept[1]);
  EXPECT_EQ(r[0].weight[1], 0.0);
  EXPECT_NEAR(r[0].weight[0], 0.6667, 5e-5);  // not renormalised
}

TEST(RouteGroup, RandomPolicyKeepsIffUniformBelowGateOverThreshold) {
  RoutingRule rule;
  rule.policy = SecondExpertPolicy::kRandom;
  rule.threshold = 0.5;  // keep iff u < 2 g2; 2 g2 = .667 .889 .444 .75 .667 .875
  const double u[6] = {0.66, 0.9, 0.1, 0.76, 0.0, 0.874};
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  route_group<double>(kWorkedGates.data(), nullptr, 6, 3, 6, rule, u, r.data(), sm);
  const bool selected[6] = {true, false, true, false, true, true};
  for (int t = 0; t < 6; ++t) EXPECT_EQ(r[t].selected2, selected[t]) << "token " << t;
}

TEST(RouteGroup, RandomPolicyDrawsOnePerRealTokenOnly) {
  // With t0 padding, t1 reads u[0]: 0.9 >= .889, so t1's second choice is skipped.
  RoutingRule rule;
  rule.policy = SecondExpertPolicy::kRandom;
  const std::uint8_t nonpad[6] = {0, 1, 1, 1, 1, 1};
  const double u[5] = {0.9, 0.1, 0.1, 0.1, 0.1};
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  route_group<double>(kWorkedGates.data(), nonpad, 6, 3, 6, rule, u, r.data(), sm);
  EXPECT_FALSE(r[1].selected2);
  EXPECT_TRUE(r[2].selected2);
}

TEST(RouteGroup, TopOneUsesTheRawSoftmaxProbability) {
  RoutingRule rule;
  rule.top_k = 1;
  std::vector<TokenRoute<double>> r(6);
  GroupRoutingSummary sm;
  route_group<double>(kWorkedGates.data(), nullptr, 6, 3, 2, rule, nullptr, r.data(), sm);
  EXPECT_EQ(r[0].weight[0], .60);
  EXPECT_EQ(r[3].weight[0], .50);
  EXPECT_EQ(r[0].expert[1], -1);
  EXPECT_FALSE(r[2].kept[0]);  // third first choice on expert 0, C = 2
  EXPECT_EQ(sm.filled, (std::vector<std::int64_t>{2, 1, 1}));
  EXPECT_NEAR(sm.aux, 1.1375, 1e-9);  // aux only ever looks at first choices
}

TEST(RouteGroup, TiesGoToTheLowestExpert) {
  const std::vector<double> gates = {.25, .25, .25, .25, .1, .3, .3, .3};
  std::vector<TokenRoute<double>> r(2);
  GroupRoutingSummary sm;
  route_group<double>(gates.data(), nullptr, 2, 4, 4, RoutingRule{}, nullptr, r.data(), sm);
  EXPECT_EQ(r[0].expert[0], 0);
  EXPECT_EQ(r[0].expert[1], 1);
  EXPECT_EQ(r[1].expert[0], 1);
  EXPECT_EQ(r[1].expert[1], 2);
}

TEST(RouteGroup, AuxIsOneUnderPerfectlyEvenRouting) {
  // Token s prefers expert s % E; every expert gets S/E first choices and the
  // same mean gate 1/E by symmetry.
  for (int E : {2, 4, 8}) {
    const int S = 4 * E;
    std::vector<double> gates(S * E);
    for (int s = 0; s < S; ++s)
      for (int e = 0; e < E; ++e) gates[s * E + e] = e == s % E ? 0.6 : 0.4 / (E - 1);
    std::vector<TokenRoute<double>> r(S);
    GroupRoutingSummary sm;
    route_group<double>(gates.data(), nullptr, S, E, S, RoutingRule{}, nullptr, r.data(), sm);
    EXPECT_NEAR(sm.aux, 1.0, 1e-12) << "E=" << E;
  }
}

TEST(RouteGroup, AuxGrowsAsRoutingCollapses) {
  const int E = 4, S = 8;
  std::vector<double> gates(S * E, 0.1);
  for (int s = 0; s < S; ++s) gates[s * E] = 0.7;  // everyone prefers expert 0
  std::vector<TokenRoute<double>> r(S);
  GroupRoutingSummary sm;
  route_group<double>(gates.data(), nullptr, S, E, S, RoutingRule{}, nullptr, r.data(), sm);
  EXPECT_NEAR(sm.aux, E * 0.7, 1e-12);
}

TEST(MoeLayerConfig, CapacityFollowsTheFactorsMinimumAndRounding) {
  MoeConfig c;
  c.num_experts = 16;
  EXPECT_EQ(expert_capacity(c, 1024, true), 128);  // 2S/E
  c.capacity_factor = 1.25;
  EXPECT_EQ(expert_capacity(c, 1000, true), 79);   // ceil(78.125)
  c.round_capacity_to = 4;
  EXPECT_EQ(expert_capacity(c, 1000, true), 80);
  EXPECT_EQ(expert_capacity(c, 8, true), 4);       // min_capacity
  EXPECT_EQ(expert_capacity(c, 1024, false), 128); // eval factor 2.0
  c.capacity = 7;
  EXPECT_EQ(expert_capacity(c, 1024, true), 7);
}

TEST(MoeLayerConfig, CapacityOfADecimalFactorIsTheDecimalCeiling) {
  // 1.1 is a hair above 1.1 as a double: S * cf / E must not round up past
  // the integer that the recipe's decimal arithmetic gives.
  MoeConfig c;
  c.min_capacity = 1;
  c.capacity_factor = 1.1;
  c.num_experts = 11;
  EXPECT_EQ(expert_capacity(c, 100, true), 10);
  c.num_experts = 5;
  EXPECT_EQ(expert_capacity(c, 100, true), 22);
  c.capacity_factor = 0.7;
  c.num_experts = 7;
  EXPECT_EQ(expert_capacity(c, 100, true), 10);
  EXPECT_EQ(expert_capacity(c, 101, true), 11);  // 10.1: a real fraction still rounds up
}

TEST(MoeLayerConfig, APositiveFactorGivesAtLeastOneSlot) {
  // ceil(S * cf / E) >= 1 for any cf > 0, however small, with no minimum set.
  MoeConfig c;
  c.num_experts = 4;
  c.min_capacity = 0;
  c.capacity_factor = 1e-12;
  EXPECT_EQ(expert_capacity(c, 32, true), 1);
  c.capacity_factor = 1e-6;
  EXPECT_EQ(expert_capacity(c, 32, true), 1);
}

TEST(MoeLayerConfig, PolicyNamesRoundTrip) {
  for (auto p : {SecondExpertPolicy::kAll, SecondExpertPolicy::kRandom, SecondExpertPolicy::kThreshold})
    EXPECT_EQ(parse_second_expert_policy(to_string(p)), p);
  EXPECT_THROW(parse_second_expert_policy("sampling"), std::invalid_argument);
}

TEST(MoeLayerConfig, ValidateNamesTheBadKey) {
  auto message = [](MoeConfig c) {
    try {
      validate(c);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  MoeConfig ok;
  EXPECT_EQ(message(ok), "no error");
  MoeConfig c = ok;
  c.top_k = 3;
  EXPECT_EQ(message(c), "moe.top_k: must be 1 or 2, got 3");
  c = ok;
  c.num_experts = 1;
  EXPECT_NE(message(c).find("moe.top_k"), std::string::npos);
  c = ok;
  c.group_size = 0;
  EXPECT_NE(message(c).find("moe.group_size"), std::string::npos);
  c = ok;
  c.second_expert_threshold = 0;
  EXPECT_NE(message(c).find("moe.second_expert_threshold"), std::string::npos);
  c.second_expert_policy = SecondExpertPolicy::kThreshold;
  EXPECT_EQ(message(c), "no error");
  c.capacity_factor = 0;
  EXPECT_THROW(
      {
        try {
          validate(c, "model.moe.");
        } catch (const InputError& e) {
          EXPECT_EQ(std::string(e.what()), "model.moe.capacity_factor: must be > 0");
          throw;
        }
      },
      InputError);
}

}  // namespace
}  // namespace moe
