// The search against a scripted StepModel whose next-token distributions
// depend on the sentence and the row's prefix, so the expected results can be
// worked out by hand, and a wrong back-pointer shows up as a wrong prefix.
#include "decode/search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "util/error.h"

namespace moe::decode {
namespace {

constexpr std::int32_t kBos = 1, kEos = 2;
constexpr int kVocab = 10;
// Tokens of the scripts (ids >= 3).
constexpr std::int32_t A = 3, B = 4, C = 5, D = 6, X = 7;

using Prefix = std::vector<std::int32_t>;
using Script = std::function<std::map<std::int32_t, double>(std::int32_t sentence, const Prefix& prefix)>;

// With route_width W > 0 the model also reports, per step and row, W routes
// that encode the row's sentence and prefix (route_of), so a hypothesis's
// recorded routes are right only if they followed its back-pointers.
class ScriptedModel final : public StepModel {
 public:
  explicit ScriptedModel(Script script, std::int64_t max_length = 50, int route_width = 0)
      : script_(std::move(script)), max_length_(max_length), route_width_(route_width) {}
  int vocab_size() const override { return kVocab; }
  std::int32_t eos_id() const override { return kEos; }
  std::int32_t bos_id() const override { return kBos; }
  std::int64_t max_target_length() const override { return max_length_; }
  // The sentence id is the source's first token.
  void start(std::span<const std::span<const std::int32_t>> sources) override {
    sentence_.clear();
    prefix_.clear();
    for (const auto& s : sources) {
      sentence_.push_back(s[0]);
      prefix_.emplace_back();
    }
    first_ = true;
  }
  void step(std::span<const std::int32_t> tokens, TensorView<float> log_probs) override {
    ASSERT_EQ(tokens.size(), prefix_.size());
    rows_per_step.push_back(static_cast<int>(tokens.size()));
    for (std::size_t r = 0; r < tokens.size(); ++r) {
      if (first_) {
        EXPECT_EQ(tokens[r], kBos);
      } else {
        prefix_[r].push_back(tokens[r]);
      }
      // Unscripted tokens are (nearly) impossible.
      std::fill(log_probs.row(r), log_probs.row(r) + kVocab, std::log(1e-9f));
      for (const auto& [token, p] : script_(sentence_[r], prefix_[r]))
        log_probs.row(r)[token] = static_cast<float>(std::log(p));
    }
    first_ = false;
  }
  int route_width() const override { return route_width_; }
  void step_routes(std::span<ExpertRoute> routes) const override {
    ASSERT_EQ(routes.size(), prefix_.size() * static_cast<std::size_t>(route_width_));
    for (std::size_t r = 0; r < prefix_.size(); ++r)
      for (int l = 0; l < route_width_; ++l) routes[r * route_width_ + l] = route_of(sentence_[r], prefix_[r], l);
  }
  // Layer l's route of the step that follows `prefix`.
  static ExpertRoute route_of(std::int32_t sentence, const Prefix& prefix, int l) {
    ExpertRoute e;
    e.expert[0] = sentence * 1000 + l * 100 + static_cast<std::int32_t>(prefix.size());
    std::int32_t hash = 0;
    for (std::int32_t t : prefix) hash = hash * 7 + t;
    e.expert[1] = hash;
    e.weight[0] = static_cast<float>(l);
    e.weight[1] = static_cast<float>(prefix.empty() ? -1 : prefix.back());
    return e;
  }
  void reorder(std::span<const std::int32_t> rows) override {
    std::vector<Prefix> prefix;
    std::vector<std::int32_t> sentence;
    for (std::int32_t r : rows) {
      prefix.push_back(prefix_[r]);
      sentence.push_back(sentence_[r]);
    }
    prefix_ = std::move(prefix);
    sentence_ = std::move(sentence);
  }
  std::vector<int> rows_per_step;

 private:
  Script script_;
  std::int64_t max_length_;
  int route_width_;
  std::vector<std::int32_t> sentence_;
  std::vector<Prefix> prefix_;
  bool first_ = true;
};

std::vector<std::vector<Hypothesis>> search(StepModel& model, const SearchOptions& o,
                                            const std::vector<Prefix>& sources) {
  std::vector<std::span<const std::int32_t>> spans(sources.begin(), sources.end());
  std::vector<std::uint64_t> streams(sources.size());
  for (std::size_t i = 0; i < streams.size(); ++i) streams[i] = i;
  Searcher searcher(o);
  return searcher.run(model, spans, streams);
}

SearchOptions options(int beam, double alpha = 0.0, int n_best = 1) {
  SearchOptions o;
  o.beam_size = beam;
  o.alpha = alpha;
  o.n_best = n_best;
  o.max_length_a = 0;
  o.max_length_b = 10;
  return o;
}

// A looks best first (0.6) but every continuation of A is weak (0.4); B (0.4)
// continues with C at 0.9. Greedy: A X (0.6 * 0.4), beam 2: B C (0.4 * 0.9).
std::map<std::int32_t, double> garden_path(std::int32_t, const Prefix& p) {
  if (p.empty()) return {{A, 0.6}, {B, 0.4}};
  if (p == Prefix{A}) return {{X, 0.4}, {C, 0.3}, {D, 0.3}};
  if (p == Prefix{B}) return {{C, 0.9}, {D, 0.1}};
  return {{kEos, 1.0}};
}

TEST(BeamSearch, GreedyTakesTheLocallyBestTokenAndTheBeamFindsTheBetterSequence) {
  ScriptedModel model(garden_path);
  const auto greedy = search(model, options(1), {{0, kEos}});
  ASSERT_EQ(greedy[0].size(), 1u);
  EXPECT_EQ(greedy[0][0].tokens, (Prefix{A, X}));
  EXPECT_NEAR(greedy[0][0].log_prob, std::log(0.6 * 0.4), 1e-5);
  const auto beam = search(model, options(2), {{0, kEos}});
  EXPECT_EQ(beam[0][0].tokens, (Prefix{B, C}));
  EXPECT_NEAR(beam[0][0].log_prob, std::log(0.4 * 0.9), 1e-5);
  EXPECT_NEAR(beam[0][0].score, beam[0][0].log_prob, 1e-12);  // alpha 0: no penalty
}

TEST(BeamSearch, NBestListIsOrderedAndComplete) {
  ScriptedModel model(garden_path);
  const auto out = search(model, options(4, 0.0, 4), {{0, kEos}});
  ASSERT_EQ(out[0].size(), 4u);
  // All two-token sequences: BC .36, AX .24, AC .18, AD .18 (BD .04 is fifth).
  EXPECT_EQ(out[0][0].tokens, (Prefix{B, C}));
  EXPECT_EQ(out[0][1].tokens, (Prefix{A, X}));
  EXPECT_NEAR(out[0][2].log_prob, std::log(0.18), 1e-5);
  EXPECT_NEAR(out[0][3].log_prob, std::log(0.18), 1e-5);
  EXPECT_NE(out[0][2].tokens, out[0][3].tokens);
  for (std::size_t i = 1; i < out[0].size(); ++i) EXPECT_GE(out[0][i - 1].score, out[0][i].score);
}

// Short: "A EOS" with p 0.5 (|Y| = 2). Long: "B C C C EOS" with p 0.45 (|Y| = 5).
// A sentence is done with K finished hypotheses (fairseq), so no other row
// may end before the long one for the penalty to have a say.
std::map<std::int32_t, double> short_or_long(std::int32_t, const Prefix& p) {
  if (p.empty()) return {{A, 0.5}, {B, 0.45}, {D, 0.05}};
  if (p == Prefix{A}) return {{kEos, 1.0}};
  if (p[0] == B) return p.size() < 4 ? std::map<std::int32_t, double>{{C, 1.0}}
                                     : std::map<std::int32_t, double>{{kEos, 1.0}};
  return {{D, 1.0}};  // rows the beam keeps from 1e-9 tokens never end early
}

TEST(BeamSearch, LengthPenaltyDecidesBetweenShortAndLong) {
  ScriptedModel model(short_or_long);
  const auto raw = search(model, options(2, 0.0), {{0, kEos}});
  EXPECT_EQ(raw[0][0].tokens, (Prefix{A}));
  // GNMT alpha 1: log(.5)/(7/6) = -0.594 < log(.45)/(10/6) = -0.479.
  const auto gnmt = search(model, options(2, 1.0), {{0, kEos}});
  EXPECT_EQ(gnmt[0][0].tokens, (Prefix{B, C, C, C}));
  EXPECT_NEAR(gnmt[0][0].score, std::log(0.45) / (10.0 / 6.0), 1e-5);
  // Marian's normalisation with alpha 1: log(.5)/2 = -0.347 < log(.45)/5 = -0.160.
  SearchOptions normalized = options(2, 1.0);
  normalized.normalize = true;
  const auto marian = search(model, normalized, {{0, kEos}});
  EXPECT_EQ(marian[0][0].tokens, (Prefix{B, C, C, C}));
  EXPECT_NEAR(marian[0][0].score, std::log(0.45) / 5.0, 1e-5);
  // Small alpha keeps the short one: log(.5)/(7/6)^.1 = -0.683 > log(.45)/(10/6)^.1 = -0.757.
  const auto mild = search(model, options(2, 0.1), {{0, kEos}});
  EXPECT_EQ(mild[0][0].tokens, (Prefix{A}));
}

// Sentence 7 ends at once; sentence 8 needs six tokens.
std::map<std::int32_t, double> early_and_late(std::int32_t sentence, const Prefix& p) {
  if (sentence == 7) return p.empty() ? std::map<std::int32_t, double>{{kEos, 0.9}, {A, 0.1}}
                                      : std::map<std::int32_t, double>{{kEos, 1.0}};
  if (p.size() < 6) return {{C, 0.8}, {D, 0.2}};
  return {{kEos, 1.0}};
}

TEST(BeamSearch, AFinishedSentenceLeavesTheBatchAndDoesNotBlockTheOthers) {
  ScriptedModel model(early_and_late);
  const auto out = search(model, options(2), {{7, kEos}, {8, kEos}});
  EXPECT_TRUE(out[0][0].tokens.empty());  // EOS first: an empty translation
  EXPECT_NEAR(out[0][0].log_prob, std::log(0.9), 1e-5);
  EXPECT_EQ(out[1][0].tokens, (Prefix{C, C, C, C, C, C}));
  // Step 0: one row each. Sentence 7's "EOS" (log .9) already beats anything
  // its live row "A" (log .1) can reach, so from step 1 on only sentence 8's
  // two rows are decoded, for its 6 tokens and EOS.
  ASSERT_EQ(model.rows_per_step.size(), 7u);
  EXPECT_EQ(model.rows_per_step[0], 2);
  for (std::size_t t = 1; t < model.rows_per_step.size(); ++t) EXPECT_EQ(model.rows_per_step[t], 2) << t;
}

TEST(BeamSearch, StopsAsSoonAsTheBestCannotBeBeaten) {
  // After "A EOS" (log .9) finishes, the live row "B" has log .1: with alpha
  // 0 it can never win, so n_best = 1 stops without decoding "B" further.
  ScriptedModel model([](std::int32_t, const Prefix& p) -> std::map<std::int32_t, double> {
    if (p.empty()) return {{A, 0.9}, {B, 0.1}};
    if (p[0] == A) return {{kEos, 1.0}};
    return {{C, 1.0}};
  });
  const auto out = search(model, options(2), {{0, kEos}});
  EXPECT_EQ(out[0][0].tokens, (Prefix{A}));
  EXPECT_EQ(model.rows_per_step.size(), 2u);
}

// No EOS before `length` tokens (it is a 1e-9 token like any unscripted
// one); from there the model would rather go on with D, but must stop.
Script runs_past(std::size_t length) {
  return [length](std::int32_t, const Prefix& p) -> std::map<std::int32_t, double> {
    if (p.size() < length) return {{C, 0.99}, {D, 0.01}};
    return {{D, 0.9}, {kEos, 0.1}};
  };
}

TEST(BeamSearch, MaxLengthForcesEndOfSentence) {
  ScriptedModel model(runs_past(4));
  SearchOptions o = options(2);
  o.max_length_a = 1.0;  // 3 source tokens + 1 = at most 4 target tokens
  o.max_length_b = 1;
  const auto out = search(model, o, {{0, 5, kEos}});
  ASSERT_FALSE(out[0].empty());
  EXPECT_EQ(out[0][0].tokens, (Prefix{C, C, C, C}));
  EXPECT_NEAR(out[0][0].log_prob, 4 * std::log(0.99) + std::log(0.1), 1e-5);
  for (const Hypothesis& h : out[0]) EXPECT_LE(h.tokens.size(), 4u);
  // The model's own limit caps the options' one.
  ScriptedModel capped(runs_past(2), 2);
  EXPECT_EQ(search(capped, o, {{0, 5, kEos}})[0][0].tokens, (Prefix{C, C}));
}

// EOS is the likeliest token at once, but min_length keeps it out until the
// hypothesis has 3 tokens; the forced end at max_length still applies.
std::map<std::int32_t, double> eager_eos(std::int32_t, const Prefix&) { return {{kEos, 0.7}, {C, 0.3}}; }

TEST(BeamSearch, MinLengthKeepsEosOutUntilThenAndMaxLengthStillWins) {
  ScriptedModel model(eager_eos);
  SearchOptions o = options(2);
  EXPECT_TRUE(search(model, o, {{0, kEos}})[0][0].tokens.empty());
  o.min_length = 3;
  const auto out = search(model, o, {{0, kEos}});
  EXPECT_EQ(out[0][0].tokens, (Prefix{C, C, C}));
  EXPECT_NEAR(out[0][0].log_prob, 3 * std::log(0.3) + std::log(0.7), 1e-5);
  o.min_length = 100;  // beyond the length limit of 10: the limit ends it
  EXPECT_EQ(search(model, o, {{0, kEos}})[0][0].tokens.size(), 10u);
  o.min_length = -1;
  EXPECT_THROW(Searcher{o}, InputError);
}

// a * S + b far beyond int64 is capped by the model's limit, not cast into
// an overflow (which gave 1 token and ignored min_length).
TEST(BeamSearch, AHugeLengthFactorIsCappedByTheModelsLimit) {
  ScriptedModel model(eager_eos, /*max_length=*/6);
  SearchOptions o = options(2);
  o.min_length = 4;
  for (double a : {1e30, std::numeric_limits<double>::max()}) {
    o.max_length_a = a;
    EXPECT_EQ(search(model, o, {{0, 5, kEos}})[0][0].tokens, (Prefix{C, C, C, C})) << a;
  }
  o.min_length = 100;  // the model's 6 ends it
  EXPECT_EQ(search(model, o, {{0, 5, kEos}})[0][0].tokens.size(), 6u);
}

// More rows than the vocabulary has tokens: refused before anything grows.
TEST(BeamSearch, ABeamLargerThanTheVocabularyIsAnError) {
  ScriptedModel model(eager_eos);
  try {
    search(model, options(kVocab + 1), {{0, kEos}});
    ADD_FAILURE() << "beam 11 over 10 tokens accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "beam_size: must be at most the vocabulary size (10), got 11");
  }
  EXPECT_EQ(search(model, options(kVocab), {{0, kEos}})[0].size(), 1u);
}

TEST(BeamSearch, BatchedEqualsOneSentenceAtATime) {
  auto script = [](std::int32_t sentence, const Prefix& p) -> std::map<std::int32_t, double> {
    if (p.size() >= static_cast<std::size_t>(sentence)) return {{kEos, 0.7}, {A, 0.3}};
    return {{static_cast<std::int32_t>(3 + (sentence + p.size()) % 5), 0.5}, {B, 0.3}, {kEos, 0.2}};
  };
  std::vector<Prefix> sources = {{3, kEos}, {1, kEos}, {6, kEos}, {2, kEos}, {5, kEos}};
  ScriptedModel batched_model(script);
  const auto batched = search(batched_model, options(3, 0.6, 3), sources);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    ScriptedModel single_model(script);
    const auto single = search(single_model, options(3, 0.6, 3), {sources[i]});
    ASSERT_EQ(single[0].size(), batched[i].size());
    for (std::size_t k = 0; k < single[0].size(); ++k) {
      EXPECT_EQ(single[0][k].tokens, batched[i][k].tokens) << i << " " << k;
      EXPECT_DOUBLE_EQ(single[0][k].score, batched[i][k].score);
    }
  }
}

std::map<std::int32_t, double> seventy_thirty(std::int32_t, const Prefix& p) {
  if (p.empty()) return {{A, 0.7}, {B, 0.3}};
  return {{kEos, 1.0}};
}

TEST(Sampling, FollowsTheDistributionAndTheSeed) {
  SearchOptions o = options(1);
  o.sampling.enabled = true;
  std::vector<Prefix> sources(2000, Prefix{0, kEos});
  ScriptedModel model(seventy_thirty);
  const auto out = search(model, o, sources);
  int a = 0;
  for (const auto& h : out) a += h[0].tokens == Prefix{A};
  EXPECT_NEAR(a / 2000.0, 0.7, 0.04);
  ScriptedModel again(seventy_thirty);
  const auto same = search(again, o, sources);
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i][0].tokens, same[i][0].tokens);
  o.seed = 2;
  const auto other = search(again, o, sources);
  int differ = 0;
  for (std::size_t i = 0; i < out.size(); ++i) differ += out[i][0].tokens != other[i][0].tokens;
  EXPECT_GT(differ, 100);
}

TEST(Sampling, TopKAndTemperatureShapeTheDraws) {
  std::vector<Prefix> sources(300, Prefix{0, kEos});
  ScriptedModel model(seventy_thirty);
  SearchOptions top1 = options(1);
  top1.sampling = parse_sampling("topk:1");
  for (const auto& h : search(model, top1, sources)) EXPECT_EQ(h[0].tokens, Prefix{A});
  SearchOptions cold = options(1);
  cold.sampling = parse_sampling("temperature:0.05");  // 0.3/0.7 becomes (3/7)^20 ~ 4e-8
  for (const auto& h : search(model, cold, sources)) EXPECT_EQ(h[0].tokens, Prefix{A});
  // Several samples per sentence come back scored, best first.
  SearchOptions many = options(4, 0.0, 4);
  many.sampling = parse_sampling("topk:2,temperature:1");
  const auto out = search(model, many, {{0, kEos}});
  ASSERT_EQ(out[0].size(), 4u);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_GE(out[0][i - 1].score, out[0][i].score);
}

// Banned tokens (pad, BOS, language tags in the Translator) never come out,
// whatever the mode: here A, the likeliest first token, and X; temperature
// 100 makes every other token about as likely as the scripted ones.
TEST(NeverGenerate, BannedTokensAreNeverChosenInAnyMode) {
  std::vector<Prefix> sources(200, Prefix{0, kEos});
  const std::set<std::int32_t> banned = {0, kBos, A, X};
  for (const char* mode : {"greedy", "beam", "temperature:100", "topk:0,temperature:100", "topk:4,temperature:100"}) {
    SearchOptions o = std::string(mode) == "beam" ? options(4, 0.0, 4) : options(1);
    if (std::string(mode).find(':') != std::string::npos) {
      o.sampling = parse_sampling(mode);
      o.beam_size = o.n_best = 4;
    }
    o.never_generate.assign(banned.begin(), banned.end());
    ScriptedModel model(seventy_thirty);
    const auto out = search(model, o, sources);
    for (const auto& hypotheses : out) {
      ASSERT_FALSE(hypotheses.empty()) << mode;
      for (const Hypothesis& h : hypotheses)
        for (std::int32_t t : h.tokens) ASSERT_EQ(banned.count(t), 0u) << mode << ": token " << t;
    }
    if (std::string(mode) == "greedy") {
      EXPECT_EQ(out[0][0].tokens, Prefix{B});  // the best allowed token
    }
  }
  SearchOptions bad;
  bad.never_generate = {-1};
  EXPECT_THROW(validate(bad), InputError);
}

// Routes of hypothesis h of `sentence`, as the scripted model produced them
// along h's own prefixes: [|h|+1, W].
std::vector<ExpertRoute> expected_routes(std::int32_t sentence, const Hypothesis& h, int W) {
  std::vector<ExpertRoute> out;
  for (std::size_t t = 0; t <= h.tokens.size(); ++t)
    for (int l = 0; l < W; ++l)
      out.push_back(ScriptedModel::route_of(sentence, Prefix(h.tokens.begin(), h.tokens.begin() + t), l));
  return out;
}

void expect_routes(const std::vector<ExpertRoute>& got, const std::vector<ExpertRoute>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(got[i].expert[k], want[i].expert[k]) << what << " entry " << i;
      EXPECT_EQ(got[i].weight[k], want[i].weight[k]) << what << " entry " << i;
    }
}

// Beam rows are reordered, duplicated and dropped every step, sentences leave
// the batch at different steps: each hypothesis's routes must still be those
// of its own prefixes, EOS step included.
TEST(RoutingReport, RoutesFollowTheBackPointersOfEveryHypothesis) {
  auto script = [](std::int32_t sentence, const Prefix& p) -> std::map<std::int32_t, double> {
    if (p.size() >= static_cast<std::size_t>(sentence)) return {{kEos, 0.6}, {A, 0.25}, {C, 0.15}};
    return {{static_cast<std::int32_t>(3 + (sentence + p.size()) % 5), 0.4}, {B, 0.3}, {D, 0.2}, {kEos, 0.1}};
  };
  std::vector<Prefix> sources = {{3, kEos}, {1, kEos}, {6, kEos}, {2, kEos}, {5, kEos}};
  const int W = 3;
  for (int beam : {1, 4}) {
    SearchOptions o = options(beam, 0.6, beam);
    o.report_routing = true;
    ScriptedModel model(script, 50, W);
    const auto out = search(model, o, sources);
    std::set<std::size_t> lengths;
    for (std::size_t i = 0; i < sources.size(); ++i)
      for (std::size_t k = 0; k < out[i].size(); ++k) {
        lengths.insert(out[i][k].tokens.size());
        expect_routes(out[i][k].routes, expected_routes(sources[i][0], out[i][k], W),
                      "beam " + std::to_string(beam) + " sentence " + std::to_string(i) + " hyp " + std::to_string(k));
      }
    EXPECT_GE(lengths.size(), 3u);
    // Off: the same hypotheses, no routes.
    o.report_routing = false;
    ScriptedModel plain(script, 50, W);
    const auto off = search(plain, o, sources);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      ASSERT_EQ(off[i].size(), out[i].size());
      for (std::size_t k = 0; k < off[i].size(); ++k) {
        EXPECT_EQ(off[i][k].tokens, out[i][k].tokens);
        EXPECT_TRUE(off[i][k].routes.empty());
      }
    }
  }
}

TEST(RoutingReport, SampledRowsAndForcedEndsKeepTheirRoutes) {
  auto script = [](std::int32_t, const Prefix&) -> std::map<std::int32_t, double> {
    return {{A, 0.3}, {B, 0.3}, {C, 0.2}, {kEos, 0.2}};
  };
  SearchOptions o = options(4, 0.0, 4);
  o.max_length_b = 4;  // some samples end at the length limit
  o.sampling = parse_sampling("temperature:1");
  o.report_routing = true;
  ScriptedModel model(script, 50, 2);
  std::vector<Prefix> sources = {{1, kEos}, {2, kEos}, {3, kEos}};
  const auto out = search(model, o, sources);
  for (std::size_t i = 0; i < sources.size(); ++i)
    for (const Hypothesis& h : out[i]) expect_routes(h.routes, expected_routes(sources[i][0], h, 2), "sampled");
}

TEST(SearchOptions, BadValuesAreOneLineErrors) {
  auto expect_error = [](SearchOptions o, const std::string& key) {
    try {
      validate(o);
      ADD_FAILURE() << "no error for " << key;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  SearchOptions o;
  o.beam_size = 0;
  expect_error(o, "beam_size");
  o = {};
  o.n_best = 5;
  expect_error(o, "n_best");
  o = {};
  o.alpha = -1;
  expect_error(o, "alpha");
  o = {};
  o.sampling.temperature = 0;
  expect_error(o, "temperature");
  // Non-finite values are not "below the minimum".
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (double bad : {inf, -inf, nan}) {
    o = {};
    o.alpha = bad;
    expect_error(o, "alpha: must be a finite number, got ");
    o = {};
    o.max_length_a = bad;
    expect_error(o, "max_length_a: must be a finite number, got ");
    o = {};
    o.sampling.temperature = bad;
    expect_error(o, "sampling temperature: must be a finite number, got ");
  }
  o = {};
  o.sampling.temperature = 1e-320;  // 1/T is inf: sampling weights would be NaN
  expect_error(o, "sampling temperature: must be > 0 (and 1/T finite)");
  for (const char* bad : {"topk", "topk:x", "topk:-1", "temperature:0", "foo:1", "topk:3,", "temperature:1e-320"})
    EXPECT_THROW(parse_sampling(bad), InputError) << bad;
  try {
    parse_sampling("temperature:1e-400");
    ADD_FAILURE() << "1e-400";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'1e-400' is out of range"), std::string::npos) << e.what();
  }
  for (const char* bad : {"temperature:inf", "temperature:nan", "topk:3,temperature:-inf"}) {
    try {
      parse_sampling(bad);
      ADD_FAILURE() << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("temperature must be a finite number"), std::string::npos) << e.what();
    }
  }
  for (const char* twice : {"topk:3,topk:5", "temperature:1,topk:3,temperature:2"}) {
    try {
      parse_sampling(twice);
      ADD_FAILURE() << twice;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("is given twice"), std::string::npos) << e.what();
    }
  }
  const SamplingOptions both = parse_sampling("topk:40,temperature:0.5");
  EXPECT_TRUE(both.enabled);
  EXPECT_EQ(both.top_k, 40);
  EXPECT_DOUBLE_EQ(both.temperature, 0.5);
}

TEST(LengthPenalty, GnmtAndMarianFormulas) {
  SearchOptions o;
  o.alpha = 0.6;
  EXPECT_NEAR(length_penalty(o, 7), std::pow(2.0, 0.6), 1e-12);
  o.normalize = true;
  EXPECT_NEAR(length_penalty(o, 7), std::pow(7.0, 0.6), 1e-12);
  o.alpha = 0;
  EXPECT_EQ(length_penalty(o, 7), 1.0);
}

}  // namespace
}  // namespace moe::decode
