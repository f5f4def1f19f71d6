#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "util/error.h"

namespace moe::io {
namespace {
namespace fs = std::filesystem;

std::string read_file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() / ("moe-ckpt-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(run_);
    std::ofstream(run_ + "/vocab.model") << "not really a model";
    table_.add({"w", Shape{2, 2}, Init::kUniform, 1.0});
    table_.allocate();
    table_.initialize(1);
    recipe_.model.d_model = 64;
    recipe_.model.heads = 4;
  }
  void TearDown() override { fs::remove_all(run_); }
  std::string save(std::int64_t step, int keep_last = 2) {
    CheckpointWrite w;
    w.run_dir = run_;
    w.step = step;
    w.weights = weight_tensors(table_, 0);
    w.trainer_state_json = "{\"step\": " + std::to_string(step) + "}";
    w.recipe_yaml = config::recipe_to_yaml(recipe_);
    w.vocab_path = run_ + "/vocab.model";
    w.vocab_fingerprint = "abc";
    w.keep_last = keep_last;
    return save_checkpoint(w);
  }
  std::string run_;
  WeightTable<float> table_;
  config::Recipe recipe_;
};

TEST_F(CheckpointTest, LatestPointsAtTheNewestAndOldOnesArePruned) {
  const std::string first = save(100);
  mark_best(run_, first);
  save(200);
  save(300);
  const std::string third = save(400);
  EXPECT_EQ(latest_checkpoint(run_), third);
  EXPECT_TRUE(fs::exists(first));  // best survives pruning, besides the last two
  EXPECT_FALSE(fs::exists(run_ + "/checkpoints/step-00000200"));
  EXPECT_TRUE(fs::exists(run_ + "/checkpoints/step-00000300"));
  EXPECT_EQ(resolve_checkpoint(run_, /*prefer_best=*/true), first);
  EXPECT_EQ(resolve_checkpoint(run_, /*prefer_best=*/false), third);
  EXPECT_EQ(resolve_checkpoint(third, true), third);
  for (const auto& e : fs::directory_iterator(run_ + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST_F(CheckpointTest, InfoCarriesRecipeVocabAndState) {
  const std::string dir = save(42);
  const CheckpointInfo info = read_checkpoint_info(dir);
  EXPECT_EQ(info.recipe.model.d_model, 64);
  EXPECT_EQ(info.vocab_fingerprint, "abc");
  EXPECT_TRUE(fs::exists(info.vocab_path));
  EXPECT_EQ(info.trainer_state_json, "{\"step\": 42}");
  const std::string index = read_file_text(dir + "/index.json");
  EXPECT_NE(index.find("\"w\""), std::string::npos) << index;
  EXPECT_NE(index.find("weights.safetensors"), std::string::npos) << index;
  WeightTable<float> loaded;
  loaded.add({"w", Shape{2, 2}, Init::kZeros, 0});
  loaded.allocate();
  load_checkpoint_tensors(dir, "weights", weight_tensors(loaded, 0));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(loaded.param("w")[i], table_.param("w")[i]);
}

TEST_F(CheckpointTest, ForeignOrMissingDirectoriesAreRefused) {
  EXPECT_THROW(resolve_checkpoint(run_, true), FileError);  // no checkpoint yet
  EXPECT_THROW(resolve_checkpoint(run_ + "/nope", true), FileError);
  fs::create_directories(run_ + "/foreign");
  write_safetensors(run_ + "/foreign/weights.safetensors", {}, {{"format", "something-else"}});
  try {
    read_checkpoint_info(run_ + "/foreign");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("not a moe-nmt checkpoint"), std::string::npos);
  }
}

}  // namespace
}  // namespace moe::io
