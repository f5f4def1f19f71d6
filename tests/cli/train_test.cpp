// End-to-end tests of moe-train: a tiny corpus and vocabulary made here, a
// tiny MoE model trained by the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli/run_command.h"

namespace moe::test {
namespace {
namespace fs = std::filesystem;

// A two-language toy corpus (words reversed / prefixed) and a 64-piece
// SentencePiece model over it, made once per test binary.
const std::string& tiny_corpus() {
  static const std::string dir = [] {
    const std::string d = temp_dir();
    const std::vector<std::string> words = {"house", "green", "tree",  "small", "river", "open",
                                            "file",  "save",  "print", "window", "close", "new"};
    std::mt19937 rng(1);
    for (const char* split : {"train", "dev", "test"}) fs::create_directories(d + "/" + split);
    for (const std::string lang : {"de", "fr"}) {
      std::ofstream train(d + "/train/" + lang + ".tsv"), dev(d + "/dev/" + lang + ".tsv");
      for (int i = 0; i < 300; ++i) {
        std::string src, en;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < n; ++k) {
          const std::string& w = words[rng() % words.size()];
          en += (k ? " " : "") + w;
          src += (k ? " " : "") + (lang == "de" ? std::string(w.rbegin(), w.rend()) + "en" : "le" + w.substr(0, 3));
        }
        (i < 270 ? train : dev) << src << "\t" << en << "\n";
      }
    }
    const auto r = run_app("moe-tokenize", "-q train --corpus " + shell_quote(d) + " -o " + shell_quote(d + "/spm") +
                                               " --vocab-size 64 --sentences 2000");
    if (r.exit_code != 0) throw std::runtime_error("moe-tokenize train failed: " + r.err);
    return d;
  }();
  return dir;
}

std::string write_recipe(const std::string& dir, const std::string& extra = "") {
  return write_file(dir, "recipe.yaml",
                    "data:\n  corpus_dir: " + tiny_corpus() + "\nvocab:\n  model: " + tiny_corpus() +
                        "/spm.model\n"
                        "model:\n  vocab: 64\n  d_model: 16\n  ffn_dim: 32\n  heads: 2\n  enc_layers: 2\n"
                        "  dec_layers: 2\n  dropout: 0.1\n  moe:\n    num_experts: 4\n    group_size: 32\n"
                        "train:\n  batch_tokens: 128\n  log_every: 1\n  seed: 3\n"
                        "optimizer:\n  name: adam\n  lr: 0.003\n  beta1: 0.9\n"
                        "schedule:\n  name: inverse_sqrt\n  warmup_steps: 10\n"
                        "checkpoint:\n  dir: run\n  every: 1000\neval:\n  every: 0\n" +
                        extra);
}

std::vector<double> losses(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j["loss"].get<double>());
  }
  return out;
}

TEST(MoeTrain, ResumedRunRepeatsTheUninterruptedLossCurveBitForBit) {
  const std::string a = temp_dir(), b = temp_dir();
  const std::string ra = write_recipe(a), rb = write_recipe(b);
  auto r = run_app("moe-train", shell_quote(ra) + " -q --set train.max_steps=24");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_app("moe-train", shell_quote(rb) + " -q --set train.max_steps=12");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_app("moe-train", shell_quote(rb) + " -q --set train.max_steps=24");  // resumes at 12
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto whole = losses(a + "/run"), resumed = losses(b + "/run");
  ASSERT_EQ(whole.size(), 24u);
  ASSERT_EQ(resumed.size(), 24u);
  for (std::size_t i = 0; i < whole.size(); ++i) EXPECT_EQ(whole[i], resumed[i]) << "step " << i + 1;
  EXPECT_LT(whole.back(), whole.front());  // and it learns
  EXPECT_TRUE(fs::exists(a + "/run/report.html"));
  EXPECT_TRUE(fs::exists(a + "/run/checkpoints/step-00000024/weights.safetensors"));
}

TEST(MoeTrain, SameSeedSameCurveOtherSeedOtherCurve) {
  const std::string a = temp_dir(), b = temp_dir(), c = temp_dir();
  for (const auto& [dir, seed] : {std::pair{a, 3}, {b, 3}, {c, 4}}) {
    const auto r = run_app("moe-train", shell_quote(write_recipe(dir)) + " -q --set train.max_steps=6 --set train.seed=" +
                                            std::to_string(seed));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(losses(a + "/run"), losses(b + "/run"));
  EXPECT_NE(losses(a + "/run"), losses(c + "/run"));
}

TEST(MoeTrain, RecipeErrorsNameFileLineAndKey) {
  const std::string d = temp_dir();
  const std::string recipe = write_file(d, "bad.yaml", "model:\n  d_model: 16\n  hedas: 2\n");
  auto r = run_app("moe-train", shell_quote(recipe));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(recipe + ":3: unknown key 'model.hedas' (did you mean 'model.heads'?)"), std::string::npos)
      << r.err;
  r = run_app("moe-train", shell_quote(write_recipe(d)) + " --set model.moe.second_expert_policy=sometimes");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--set: key 'model.moe.second_expert_policy': 'sometimes' is not one of all|random|threshold"),
            std::string::npos)
      << r.err;
  r = run_app("moe-train", shell_quote(d + "/missing.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such recipe file"), std::string::npos) << r.err;
  // One line, no stack of messages.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(MoeTrain, DumpConfigRoundTrips) {
  const std::string d = temp_dir();
  const auto first = run_app("moe-train", shell_quote(write_recipe(d)) + " --dump-config --set train.seed=9");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("seed: 9"), std::string::npos);
  const std::string dumped = write_file(d, "dumped.yaml", first.out);
  const auto second = run_app("moe-train", shell_quote(dumped) + " --dump-config");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST(MoeTrain, MismatchedModelOrVocabularyIsRefusedOnResume) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  ASSERT_EQ(run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=2").exit_code, 0);
  const auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=4 --set model.ffn_dim=48");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.ffn_dim: 32 in the checkpoint, 48 in the recipe"), std::string::npos) << r.err;
  const auto v = run_app("moe-train", shell_quote(recipe) + " -q --set vocab.model=" + shell_quote(d + "/nope.model"));
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("nope.model"), std::string::npos) << v.err;
}

}  // namespace
}  // namespace moe::test
