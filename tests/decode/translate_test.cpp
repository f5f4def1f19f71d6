// translate() with the real Transformer (random weights, dense and MoE):
// beam 1 is greedy, batching and sorting change nothing, the incremental
// (key/value cache) scores equal a full teacher-forced forward.
#include "decode/translate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "decode/transformer_step_model.h"
#include "util/error.h"

namespace moe::decode {
namespace {

ModelConfig small_config(int experts) {
  ModelConfig c;
  c.vocab = 24;
  c.d_model = 16;
  c.ffn_dim = 24;
  c.heads = 2;
  c.enc_layers = 2;
  c.dec_layers = 2;
  c.moe_every = 2;
  c.moe_offset = 1;
  c.moe.num_experts = experts;
  c.moe.group_size = 8;  // several groups per batch
  c.dropout = 0;
  c.max_positions = 40;
  return c;
}

// Random init gives flat distributions where float noise could swap close
// candidates; a larger embedding makes the next token clear-cut.
std::unique_ptr<Transformer<float>> make_model(int experts, std::uint64_t seed = 5) {
  auto model = std::make_unique<Transformer<float>>(inference_config(small_config(experts), 0), seed);
  TensorView<float> embed = model->weights().param("embed");
  for (std::int64_t i = 0; i < embed.numel(); ++i) embed[i] *= 6.0f;
  return model;
}

std::vector<std::vector<std::int32_t>> sources() {
  return {{5, 6, 7, 2}, {9, 2}, {10, 11, 12, 13, 14, 15, 2}, {4, 8, 2}, {16, 17, 18, 19, 2},
          {20, 2}, {21, 22, 23, 5, 6, 2}, {7, 7, 2}, {3, 12, 9, 2}};
}

SearchOptions search_options(int beam, int n_best, int mini_batch) {
  SearchOptions o;
  o.beam_size = beam;
  o.n_best = n_best;
  o.mini_batch = mini_batch;
  o.max_length_a = 1.0;
  o.max_length_b = 3;
  return o;
}

// Greedy decoding written directly against the model's step API.
Hypothesis greedy_reference(Transformer<float>& model, const std::vector<std::int32_t>& src,
                            std::int64_t max_length) {
  const ModelConfig& c = model.config();
  EncoderOutput<float> enc = model.encode(src.data(), 1, static_cast<std::int64_t>(src.size()));
  DecoderState<float> st = model.start_decoding(enc, 1);
  Tensor<float> lp(Shape{1, c.vocab});
  Hypothesis h;
  std::int32_t token = c.bos_id;
  for (std::int64_t t = 0;; ++t) {
    model.step(st, enc, &token, lp.view());
    const float* row = lp.data();
    token = t == max_length ? c.eos_id : static_cast<std::int32_t>(std::max_element(row, row + c.vocab) - row);
    h.log_prob += row[token];
    if (token == c.eos_id) break;
    h.tokens.push_back(token);
  }
  return h;
}

// The teacher-forced batch of one hypothesis of `src`: bos y -> y eos.
Batch teacher_forced(const ModelConfig& c, const std::vector<std::int32_t>& src, const Hypothesis& h) {
  Batch b;
  b.batch = 1;
  b.src = src;
  b.src_len = static_cast<std::int64_t>(src.size());
  b.tgt_in = {c.bos_id};
  b.tgt_in.insert(b.tgt_in.end(), h.tokens.begin(), h.tokens.end());
  b.labels = h.tokens;
  b.labels.push_back(c.eos_id);
  b.tgt_len = static_cast<std::int64_t>(b.labels.size());
  return b;
}

class TranslateTest : public ::testing::TestWithParam<int> {};

TEST_P(TranslateTest, BeamOneIsGreedy) {
  auto model = make_model(GetParam());
  const auto src = sources();
  const auto out = translate(*model, src, search_options(1, 1, 4));
  for (std::size_t i = 0; i < src.size(); ++i) {
    const Hypothesis ref = greedy_reference(*model, src[i], static_cast<std::int64_t>(src[i].size()) + 3);
    ASSERT_EQ(out[i].size(), 1u);
    EXPECT_EQ(out[i][0].tokens, ref.tokens) << i;
    EXPECT_NEAR(out[i][0].log_prob, ref.log_prob, 1e-4) << i;
  }
}

TEST_P(TranslateTest, BatchedEqualsOneSentenceAtATime) {
  auto model = make_model(GetParam());
  const auto src = sources();
  for (int beam : {1, 4}) {
    const auto batched = translate(*model, src, search_options(beam, beam, 4));
    const auto single = translate(*model, src, search_options(beam, beam, 1));
    std::set<std::size_t> lengths;  // the comparison means little if every output were alike
    for (const auto& n_best : batched) lengths.insert(n_best[0].tokens.size());
    EXPECT_GE(lengths.size(), 3u);
    for (std::size_t i = 0; i < src.size(); ++i) {
      ASSERT_EQ(batched[i].size(), single[i].size()) << i;
      ASSERT_EQ(batched[i].size(), static_cast<std::size_t>(beam)) << i;
      for (std::size_t k = 0; k < batched[i].size(); ++k) {
        EXPECT_EQ(batched[i][k].tokens, single[i][k].tokens) << "beam " << beam << " sentence " << i;
        EXPECT_NEAR(batched[i][k].score, single[i][k].score, 1e-4);
      }
    }
  }
}

TEST_P(TranslateTest, OutputFollowsInputOrder) {
  auto model = make_model(GetParam());
  const auto src = sources();
  std::vector<std::vector<std::int32_t>> reversed(src.rbegin(), src.rend());
  SearchOptions o = search_options(3, 1, 3);
  o.max_batch_tokens = 14;  // mixes the batch limits
  const auto forward = translate(*model, src, o);
  const auto backward = translate(*model, reversed, o);
  for (std::size_t i = 0; i < src.size(); ++i)
    EXPECT_EQ(forward[i][0].tokens, backward[src.size() - 1 - i][0].tokens) << i;
}

TEST_P(TranslateTest, CachedStepScoresEqualFullForwardScoring) {
  auto model = make_model(GetParam());
  const auto src = sources();
  const auto out = translate(*model, src, search_options(4, 4, 5));
  const ModelConfig& c = model->config();
  for (std::size_t i = 0; i < src.size(); ++i)
    for (const Hypothesis& h : out[i]) {
      const Batch b = teacher_forced(c, src[i], h);
      Tensor<float> lp(Shape{b.tgt_len, c.vocab});
      model->score(b, lp.view());
      double sum = 0;
      for (std::int64_t t = 0; t < b.tgt_len; ++t) sum += lp.data()[t * c.vocab + b.labels[t]];
      EXPECT_NEAR(h.log_prob, sum, 1e-4) << i;
      EXPECT_NEAR(h.score, sum / length_penalty(search_options(4, 4, 5), b.tgt_len), 1e-4);
    }
}

TEST_P(TranslateTest, EncoderInChunksEqualsWholeBatch) {
  auto model = make_model(GetParam());
  const auto src = sources();
  std::vector<std::span<const std::int32_t>> spans(src.begin(), src.end());
  std::vector<std::uint64_t> streams(src.size(), 0);
  Searcher searcher(search_options(3, 3, 9));
  TransformerStepModel whole(*model), chunked(*model, 15);  // 7 padded tokens: 2 sentences a call
  const auto a = searcher.run(whole, spans, streams);
  const auto b = searcher.run(chunked, spans, streams);
  for (std::size_t i = 0; i < src.size(); ++i)
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      EXPECT_EQ(a[i][k].tokens, b[i][k].tokens) << i;
      EXPECT_NEAR(a[i][k].score, b[i][k].score, 1e-5) << i;
    }
}

// The routes recorded while decoding equal those of a teacher-forced
// score() of each returned hypothesis (evaluation mode, dropless capacity, so
// a token's route depends on nothing but its own states): a route that did
// not follow the beam's back-pointers, or came from another step, shows.
// Source routes equal the encoder MoE layers' routes of the same score().
TEST(RoutingReport, DecodedRoutesEqualTeacherForcedRoutes) {
  auto model = make_model(4);
  {  // The model copies its (large) input embedding: a weak BOS lets the source choose the first token.
    TensorView<float> embed = model->weights().param("embed");
    const std::int64_t M = model->config().d_model;
    for (std::int64_t m = 0; m < M; ++m) embed[model->config().bos_id * M + m] *= 0.02f;
  }
  const auto src = sources();
  const ModelConfig& c = model->config();
  const auto decoder_layers = model->moe_layers(true), encoder_layers = model->moe_layers(false);
  ASSERT_EQ(decoder_layers.size(), 1u);
  EXPECT_EQ(decoder_layers[0].first, "decoder.layer.1.moe");
  ASSERT_EQ(encoder_layers.size(), 1u);
  const std::size_t W = decoder_layers.size(), W_enc = encoder_layers.size();
  for (int beam : {1, 4}) {
    SearchOptions o = search_options(beam, beam, 4);
    o.report_routing = true;
    std::vector<std::uint64_t> streams(src.size(), 0);
    std::vector<std::vector<ExpertRoute>> source_routes;
    const auto out = translate(*model, src, o, streams, &source_routes);
    const auto plain = translate(*model, src, search_options(beam, beam, 4));
    ASSERT_EQ(source_routes.size(), src.size());
    std::set<std::int32_t> experts_seen;
    for (std::size_t i = 0; i < src.size(); ++i) {
      ASSERT_EQ(out[i].size(), plain[i].size());
      for (std::size_t k = 0; k < out[i].size(); ++k) {
        const Hypothesis& h = out[i][k];
        EXPECT_EQ(h.tokens, plain[i][k].tokens) << "reporting changed the search";
        const Batch b = teacher_forced(c, src[i], h);
        Tensor<float> lp(Shape{b.tgt_len, c.vocab});
        model->score(b, lp.view());
        const std::string where = "beam " + std::to_string(beam) + " sentence " + std::to_string(i) + " hyp " +
                                  std::to_string(k);
        ASSERT_EQ(h.routes.size(), static_cast<std::size_t>(b.tgt_len) * W) << where;
        for (std::size_t l = 0; l < W; ++l) {
          const auto& forced = decoder_layers[l].second->routes();
          ASSERT_EQ(forced.size(), static_cast<std::size_t>(b.tgt_len));
          for (std::size_t t = 0; t < forced.size(); ++t)
            for (int j = 0; j < 2; ++j) {
              EXPECT_EQ(h.routes[t * W + l].expert[j], forced[t].expert[j]) << where << " position " << t;
              EXPECT_NEAR(h.routes[t * W + l].weight[j], forced[t].weight[j], 1e-4) << where << " position " << t;
              experts_seen.insert(forced[t].expert[j]);
            }
        }
        if (k > 0) continue;
        ASSERT_EQ(source_routes[i].size(), src[i].size() * W_enc);
        for (std::size_t l = 0; l < W_enc; ++l) {
          const auto& forced = encoder_layers[l].second->routes();
          for (std::size_t s = 0; s < src[i].size(); ++s)
            for (int j = 0; j < 2; ++j)
              EXPECT_EQ(source_routes[i][s * W_enc + l].expert[j], forced[s].expert[j]) << where << " source " << s;
        }
      }
    }
    EXPECT_EQ(experts_seen.size(), 4u) << "a test where every token takes the same experts proves little";
  }
}

TEST(RoutingReport, DenseModelsReportNoRoutes) {
  auto model = make_model(0);
  SearchOptions o = search_options(2, 1, 4);
  o.report_routing = true;
  std::vector<std::uint64_t> streams(sources().size(), 0);
  std::vector<std::vector<ExpertRoute>> source_routes;
  for (const auto& n_best : translate(*model, sources(), o, streams, &source_routes))
    EXPECT_TRUE(n_best[0].routes.empty());
  for (const auto& r : source_routes) EXPECT_TRUE(r.empty());
}

INSTANTIATE_TEST_SUITE_P(DenseAndMoe, TranslateTest, ::testing::Values(0, 4),
                         [](const auto& info) { return info.param == 0 ? "Dense" : "Moe"; });

TEST(Translate, RejectsSourcesWithoutEos) {
  auto model = make_model(0);
  EXPECT_THROW(translate(*model, {{5, 6}}, search_options(2, 1, 2)), InputError);
  EXPECT_THROW(translate(*model, {{}}, search_options(2, 1, 2)), InputError);
  // Longer than the model's positions.
  EXPECT_THROW(translate(*model, {std::vector<std::int32_t>(41, 5)}, search_options(2, 1, 2)), InputError);
}

TEST(InferenceConfig, NoDroppingByDefaultAndAFactorOnRequest) {
  ModelConfig trained = small_config(4);
  trained.moe.capacity_factor = 1.0;
  trained.moe.eval_capacity_factor = 1.0;
  const ModelConfig dropless = inference_config(trained, 0);
  // Every token of a group may pick the same expert and still fit.
  EXPECT_GE(expert_capacity(dropless.moe, dropless.moe.group_size, false), dropless.moe.group_size);
  const ModelConfig factor = inference_config(trained, 3.0);
  EXPECT_EQ(expert_capacity(factor.moe, 8, false), 6);  // ceil(8 * 3 / 4)
  EXPECT_THROW(inference_config(trained, -1), InputError);
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    try {
      inference_config(trained, bad);
      ADD_FAILURE() << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("must be a finite number"), std::string::npos) << e.what();
    }
  }
  // A factor >= E already gives C >= S (nothing dropped); a huge one is
  // capped there rather than overflowing C's integer.
  for (double huge : {4.0, 1e300}) {
    const ModelConfig big = inference_config(trained, huge);
    EXPECT_EQ(expert_capacity(big.moe, big.moe.group_size, false), big.moe.group_size) << huge;
  }
}

TEST(LengthSortedBatches, LongestFirstWithinBothLimits) {
  SearchOptions o;
  o.mini_batch = 2;
  const std::vector<std::size_t> lengths = {3, 9, 5, 9, 1};
  auto batches = length_sorted_batches(lengths, o);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<std::size_t>{1, 3}));  // ties keep input order
  EXPECT_EQ(batches[1], (std::vector<std::size_t>{2, 0}));
  EXPECT_EQ(batches[2], (std::vector<std::size_t>{4}));
  o.mini_batch = 10;
  o.max_batch_tokens = 12;  // padded tokens: 9+9 = 18 and 5*3 = 15 are over, 5+5 = 10 is not
  batches = length_sorted_batches(lengths, o);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0], (std::vector<std::size_t>{1}));
  EXPECT_EQ(batches[1], (std::vector<std::size_t>{3}));
  EXPECT_EQ(batches[2], (std::vector<std::size_t>{2, 0}));
  EXPECT_EQ(batches[3], (std::vector<std::size_t>{4}));
}

}  // namespace
}  // namespace moe::decode
