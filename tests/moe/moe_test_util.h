#pragma once
// Shared by the MoE tests: random weights, a layer-plus-weights bundle, and
// a naive dense implementation of GShard's einsums (GSHARD.md §3.3-§3.4)
// written independently of lib/moe: dense masks, cumsums and GSEC tensors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "moe/moe_config.h"
#include "moe/moe_layer.h"
#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe::testing {

template <typename T>
void fill_uniform(Tensor<T>& t, Rng& rng, double scale) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(scale * (2 * rng.uniform_double() - 1));
}

// About 1 in 5 tokens padding, the rest real.
inline std::vector<std::uint8_t> random_nonpad(std::int64_t n, Rng& rng) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = rng.uniform_double() < 0.8;
  return v;
}

// Weights of one layer: wg [M,E], wi [E_local,M,H], wo [E_local,H,M].
template <typename T>
struct LayerWeights {
  Tensor<T> wg, wi, wo;
  LayerWeights(std::int64_t M, std::int64_t H, std::int64_t E, std::int64_t E_local)
      : wg(Shape{M, E}), wi(Shape{E_local, M, H}), wo(Shape{E_local, H, M}) {}
  void randomise(Rng& rng, double gate_scale = 1.5) {
    fill_uniform(wg, rng, gate_scale);
    fill_uniform(wi, rng, 0.6);
    fill_uniform(wo, rng, 0.6);
  }
  typename MoeLayer<T>::Params params() { return {wg.view(), wi.view(), wo.view()}; }
};

struct DenseResult {
  std::vector<double> y;  // [N,M]
  double aux = 0;
};

// GShard's top-2 gating and einsums on dense [G,S,E(,C)] tensors. The last
// group is padded to S with padding tokens; capacity uses the full S. Random
// policy draws: one rng.uniform_double() per real token in token order.
inline DenseResult dense_moe(const MoeConfig& cfg, int M, int H, const std::vector<double>& x,
                             const std::vector<std::uint8_t>& nonpad, const std::vector<double>& wg,
                             const std::vector<double>& wi, const std::vector<double>& wo,
                             bool training, Rng& rng) {
  const int E = cfg.num_experts, S = cfg.group_size;
  const int N = static_cast<int>(nonpad.size());
  const int G = (N + S - 1) / S;
  const int C = static_cast<int>(expert_capacity(cfg, S, training));
  auto at3 = [&](int g, int s, int e) { return (g * S + s) * E + e; };
  std::vector<double> xg(static_cast<std::size_t>(G) * S * M, 0.0), valid(G * S, 0.0);
  std::copy(x.begin(), x.end(), xg.begin());
  for (int i = 0; i < N; ++i) valid[i] = nonpad[i] ? 1.0 : 0.0;

  // GSM,ME->GSE, softmax.
  std::vector<double> gates(G * S * E);
  for (int t = 0; t < G * S; ++t) {
    double top = -1e300, sum = 0;
    for (int e = 0; e < E; ++e) {
      double l = 0;
      for (int m = 0; m < M; ++m) l += xg[t * M + m] * wg[m * E + e];
      gates[t * E + e] = l;
      top = std::max(top, l);
    }
    for (int e = 0; e < E; ++e) sum += gates[t * E + e] = std::exp(gates[t * E + e] - top);
    for (int e = 0; e < E; ++e) gates[t * E + e] /= sum;
  }
  auto argmax_masked = [&](int t, const std::vector<double>& exclude) {
    int best = -1;
    for (int e = 0; e < E; ++e)
      if (exclude[t * E + e] == 0 && (best < 0 || gates[t * E + e] > gates[t * E + best])) best = e;
    return best;
  };
  const std::vector<double> none(G * S * E, 0.0);
  std::vector<double> mask1(G * S * E, 0.0), mask2(G * S * E, 0.0);
  for (int t = 0; t < G * S; ++t) mask1[t * E + argmax_masked(t, none)] = valid[t];
  if (cfg.top_k == 2)
    for (int t = 0; t < G * S; ++t) mask2[t * E + argmax_masked(t, mask1)] = valid[t];

  DenseResult out;
  int groups_with_tokens = 0;
  for (int g = 0; g < G; ++g) {
    double n = 0, sum = 0;
    for (int s = 0; s < S; ++s) n += valid[g * S + s];
    if (n == 0) continue;
    ++groups_with_tokens;
    for (int e = 0; e < E; ++e) {
      double c = 0, m = 0;
      for (int s = 0; s < S; ++s) {
        c += mask1[at3(g, s, e)];
        m += gates[at3(g, s, e)] * valid[g * S + s];
      }
      sum += (c / n) * (m / n);
    }
    out.aux += sum / E * E * E;
  }
  if (groups_with_tokens > 0) out.aux /= groups_with_tokens;

  std::vector<double> g1(G * S, 0.0), g2(G * S, 0.0);
  for (int t = 0; t < G * S; ++t)
    for (int e = 0; e < E; ++e) {
      g1[t] += gates[t * E + e] * mask1[t * E + e];
      g2[t] += gates[t * E + e] * mask2[t * E + e];
    }
  if (cfg.top_k == 2)
    for (int t = 0; t < G * S; ++t) {
      const double den = g1[t] + g2[t] + 1e-9;
      g1[t] /= den;
      g2[t] /= den;
    }
  const bool random = cfg.second_expert_policy == SecondExpertPolicy::kRandom && training;
  for (int t = 0; t < G * S && cfg.top_k == 2; ++t) {
    if (valid[t] == 0) continue;
    bool keep = true;
    if (random) keep = rng.uniform_double() < g2[t] / cfg.second_expert_threshold;
    if (cfg.second_expert_policy == SecondExpertPolicy::kThreshold)
      keep = g2[t] > cfg.second_expert_threshold;
    if (!keep)
      for (int e = 0; e < E; ++e) mask2[t * E + e] = 0;
  }
  // Exclusive cumsums over S, first choices before second choices.
  std::vector<double> pos1(G * S * E), pos2(G * S * E);
  for (int g = 0; g < G; ++g)
    for (int e = 0; e < E; ++e) {
      double run = 0;
      for (int s = 0; s < S; ++s) {
        pos1[at3(g, s, e)] = run;
        run += mask1[at3(g, s, e)];
        if (pos1[at3(g, s, e)] >= C) mask1[at3(g, s, e)] = 0;
      }
      double count1 = 0;
      for (int s = 0; s < S; ++s) count1 += mask1[at3(g, s, e)];
      run = count1;
      for (int s = 0; s < S; ++s) {
        pos2[at3(g, s, e)] = run;
        run += mask2[at3(g, s, e)];
        if (pos2[at3(g, s, e)] >= C) mask2[at3(g, s, e)] = 0;
      }
    }
  std::vector<double> combine(static_cast<std::size_t>(G) * S * E * C, 0.0), dispatch(combine.size(), 0.0);
  for (int t = 0; t < G * S; ++t) {
    double kept1 = 0, kept2 = 0;
    for (int e = 0; e < E; ++e) {
      kept1 += mask1[t * E + e];
      kept2 += mask2[t * E + e];
    }
    for (int e = 0; e < E; ++e) {
      if (mask1[t * E + e] > 0) {
        const std::size_t i = (static_cast<std::size_t>(t) * E + e) * C + static_cast<int>(pos1[t * E + e]);
        combine[i] += g1[t] * kept1;
        dispatch[i] = 1;
      }
      if (mask2[t * E + e] > 0) {
        const std::size_t i = (static_cast<std::size_t>(t) * E + e) * C + static_cast<int>(pos2[t * E + e]);
        combine[i] += g2[t] * kept2;
        dispatch[i] = 1;
      }
    }
  }
  // GSEC,GSM->EGCM; EGCM,EMH->EGCH (relu); EGCH,EHM->GECM; GSEC,GECM->GSM.
  std::vector<double> expert_in(static_cast<std::size_t>(E) * G * C * M, 0.0);
  for (int g = 0; g < G; ++g)
    for (int s = 0; s < S; ++s)
      for (int e = 0; e < E; ++e)
        for (int c = 0; c < C; ++c) {
          const double d = dispatch[(static_cast<std::size_t>(g * S + s) * E + e) * C + c];
          if (d == 0) continue;
          for (int m = 0; m < M; ++m) expert_in[((e * G + g) * C + c) * M + m] += d * xg[(g * S + s) * M + m];
        }
  std::vector<double> hidden(static_cast<std::size_t>(E) * G * C * H, 0.0);
  for (int e = 0; e < E; ++e)
    for (int gc = 0; gc < G * C; ++gc)
      for (int h = 0; h < H; ++h) {
        double a = 0;
        for (int m = 0; m < M; ++m) a += expert_in[(e * G * C + gc) * M + m] * wi[(e * M + m) * H + h];
        hidden[(e * G * C + gc) * H + h] = std::max(a, 0.0);
      }
  std::vector<double> expert_out(static_cast<std::size_t>(G) * E * C * M, 0.0);
  for (int g = 0; g < G; ++g)
    for (int e = 0; e < E; ++e)
      for (int c = 0; c < C; ++c)
        for (int m = 0; m < M; ++m) {
          double v = 0;
          for (int h = 0; h < H; ++h) v += hidden[((e * G + g) * C + c) * H + h] * wo[(e * H + h) * M + m];
          expert_out[((g * E + e) * C + c) * M + m] = v;
        }
  std::vector<double> y(static_cast<std::size_t>(G) * S * M, 0.0);
  for (int g = 0; g < G; ++g)
    for (int s = 0; s < S; ++s)
      for (int e = 0; e < E; ++e)
        for (int c = 0; c < C; ++c) {
          const double w = combine[(static_cast<std::size_t>(g * S + s) * E + e) * C + c];
          if (w == 0) continue;
          for (int m = 0; m < M; ++m) y[(g * S + s) * M + m] += w * expert_out[((g * E + e) * C + c) * M + m];
        }
  y.resize(static_cast<std::size_t>(N) * M);
  out.y = std::move(y);
  return out;
}

template <typename T>
std::vector<double> to_doubles(const Tensor<T>& t) {
  return std::vector<double>(t.data(), t.data() + t.numel());
}

}  // namespace moe::testing
