// The trainer's time breakdown and peak memory in metrics.jsonl: a tiny MoE
// model trained for a few steps in this process (single-process mesh).
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/vocab_training.h"
#include "mesh/mesh.h"
#include "tensor/gemm.h"

namespace moe::train {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

class TrainerMetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((fs::temp_directory_path() / ("moe-trainer-" + std::to_string(::getpid()))).string());
    const std::vector<std::string> words = {"house", "green", "tree", "small", "river", "open",
                                            "file",  "save",  "print", "window", "close", "the"};
    for (const char* split : {"train", "dev"}) fs::create_directories(*dir_ + "/" + split);
    std::ofstream train(*dir_ + "/train/de.tsv"), dev(*dir_ + "/dev/de.tsv");
    for (int i = 0; i < 400; ++i) {
      std::string en, src;
      for (int k = 0; k <= i % 6; ++k) {
        en += (k ? " " : "") + words[(i * 7 + k * 3) % words.size()];
        src += (k ? " " : "") + std::string("wort") + std::to_string((i + k) % 13);
      }
      (i < 360 ? train : dev) << src << "\t" << en << "\n";
    }
    train.close(), dev.close();
    data::VocabTrainOptions o;
    o.vocab_size = 48;
    o.user_defined_symbols = {"<2en>"};
    o.sentences = 2000;
    data::train_vocab(data::sample_vocab_sentences(*dir_, data::VocabSide::kShared, o), o, *dir_ + "/spm");
    runtime_ = new MpiRuntime(MeshBackend::kSingleProcess);
  }
  static void TearDownTestSuite() {
    delete runtime_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  // Trains `steps` steps into a new run directory; returns its train records.
  static std::vector<Json> train_records(const std::string& name, int steps, bool profile) {
    const std::string run = *dir_ + "/" + name;
    std::ofstream(*dir_ + "/" + name + ".yaml")
        << "data:\n  corpus_dir: " << *dir_ << "\nvocab:\n  model: " << *dir_ << "/spm.model\n"
        << "model:\n  vocab: 48\n  d_model: 32\n  ffn_dim: 64\n  heads: 2\n  enc_layers: 2\n  dec_layers: 2\n"
        << "  moe:\n    num_experts: 4\n    group_size: 64\n"
        << "train:\n  batch_tokens: 256\n  log_every: 2\n  max_steps: " << steps << "\n  seed: 1\n"
        << "checkpoint:\n  dir: " << run << "\n  every: 3\neval:\n  every: 4\n  metric: loss\n";
    const config::Recipe recipe = config::load_recipe(*dir_ + "/" + name + ".yaml");
    Mesh mesh(*runtime_, MeshSpec{{{"data", 1}, {"expert", 1}}});
    TrainerOptions options;
    options.quiet = true;
    options.profile = profile;
    train(recipe, mesh, options);
    std::ifstream in(run + "/metrics.jsonl");
    std::vector<Json> out;
    for (std::string line; std::getline(in, line);) {
      Json j = Json::parse(line);
      if (j["type"] == "train") out.push_back(std::move(j));
    }
    return out;
  }

  static std::string* dir_;
  static MpiRuntime* runtime_;
};
std::string* TrainerMetricsTest::dir_ = nullptr;
MpiRuntime* TrainerMetricsTest::runtime_ = nullptr;

const char* const kPhases[] = {"data_wait", "batch",      "forward",   "backward", "grad_reduce",
                               "clip",      "optimizer",  "validation", "checkpoint"};

TEST_F(TrainerMetricsTest, EveryLoggedWindowBreaksItsTimeDownAndReportsPeakMemory) {
  const std::vector<Json> records = train_records("profiled", 6, true);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_FALSE(gemm_timing());  // train() restores the GEMM timing flag
  double last_rss = 0;
  for (const Json& r : records) {
    SCOPED_TRACE(r.dump());
    ASSERT_TRUE(r.contains("time_s"));
    const Json& t = r["time_s"];
    const double total = t.at("total").get<double>();
    EXPECT_GT(total, 0.0);
    EXPECT_EQ(r.at("steps_in_window").get<int>(), 2);
    double phases = 0;
    for (const char* p : kPhases) {
      const double v = t.at(p).get<double>();
      EXPECT_GE(v, 0.0) << p;
      phases += v;
    }
    // The phases partition the window: what they leave is logging and bookkeeping.
    EXPECT_LE(phases, total * 1.0001);
    EXPECT_GT(phases, 0.5 * total);
    const double compute = t["forward"].get<double>() + t["backward"].get<double>();
    const double gemm = t.at("gemm").get<double>(), routing = t.at("moe_routing").get<double>();
    EXPECT_GT(gemm, 0.0);
    EXPECT_LE(gemm / total, 1.0);
    EXPECT_GT(routing, 0.0);
    EXPECT_LE(gemm + routing, compute * 1.0001);
    EXPECT_EQ(t.at("moe_exchange").get<double>(), 0.0);  // one rank: no all-to-all
    EXPECT_EQ(r.at("data_wait_s").get<double>(), t["data_wait"].get<double>());
    const double rss = r.at("peak_rss_mib").get<double>();
    EXPECT_GT(rss, 1.0);
    EXPECT_GE(rss, last_rss);  // a peak never goes down
    last_rss = rss;
  }
  // A checkpoint after step 3 counts in the window of steps 3-4; the
  // validation after step 4 (logged first) in the window of steps 5-6.
  auto phase = [&](int window, const char* p) { return records[window]["time_s"][p].get<double>(); };
  EXPECT_EQ(phase(0, "validation"), 0.0);
  EXPECT_EQ(phase(1, "validation"), 0.0);
  EXPECT_GT(phase(2, "validation"), 0.0);
  EXPECT_EQ(phase(0, "checkpoint"), 0.0);
  EXPECT_GT(phase(1, "checkpoint"), phase(2, "checkpoint"));
}

TEST_F(TrainerMetricsTest, WithoutProfilingThePhasesStayAndGemmTimesAreLeftOut) {
  const std::vector<Json> records = train_records("unprofiled", 2, false);
  ASSERT_EQ(records.size(), 1u);
  const Json& t = records[0]["time_s"];
  EXPECT_GT(t.at("forward").get<double>(), 0.0);
  EXPECT_FALSE(t.contains("gemm"));
  EXPECT_FALSE(t.contains("moe_routing"));
}

}  // namespace
}  // namespace moe::train
