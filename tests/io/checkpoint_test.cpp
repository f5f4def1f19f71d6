#include "io/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <vector>

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

// A step directory is complete once renamed into place, before `latest`
// names it: without the pointer (a kill between the two, a deleted pointer)
// the run resumes from its newest step instead of starting over on top of it.
TEST_F(CheckpointTest, WithoutTheLatestPointerTheNewestStepIsLatest) {
  save(100);
  const std::string newest = save(1200);
  fs::remove(run_ + "/checkpoints/latest");
  fs::create_directories(run_ + "/checkpoints/step-notanumber");
  fs::create_directories(run_ + "/checkpoints/.step-00009999.tmp");
  EXPECT_EQ(latest_checkpoint(run_), newest);
  EXPECT_EQ(resolve_checkpoint(run_, /*prefer_best=*/false), newest);
  // A file where the checkpoints directory belongs is an error, not a fresh start.
  fs::remove_all(run_ + "/checkpoints");
  std::ofstream(run_ + "/checkpoints") << "oops";
  try {
    latest_checkpoint(run_);
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoints: not a directory"), std::string::npos) << e.what();
  }
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
  try {  // a run stopped before its first checkpoint
    std::ofstream(run_ + "/train.lock");
    resolve_checkpoint(run_, true);
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("the run directory has no checkpoint yet"), std::string::npos) << e.what();
  }
  fs::remove(run_ + "/train.lock");
  EXPECT_THROW(resolve_checkpoint(run_, true), FileError);
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

// A kill leaves temporaries of checkpoint writes and prunes behind (and older
// versions half-deleted step directories); the next start removes them and
// prunes, but never what `latest` or `best` names, nor anything it does not own.
TEST_F(CheckpointTest, CleaningRemovesLeftoversAndPrunesButKeepsLatestAndBest) {
  const std::string best = save(100, /*keep_last=*/10);
  mark_best(run_, best);
  save(200, 10);
  const std::string latest = save(300, 10);
  const std::string ckpts = run_ + "/checkpoints";
  fs::create_directories(ckpts + "/step-00000400");  // renamed into place, `latest` not yet moved
  fs::create_directories(ckpts + "/step-00000500");
  fs::create_directories(ckpts + "/.step-00000600.tmp");
  std::ofstream(ckpts + "/.step-00000600.tmp/weights.safetensors") << "half";
  fs::create_directories(ckpts + "/.step-00000050.deleting");
  std::ofstream(ckpts + "/.step-00000050.deleting/index.json") << "{}";
  std::ofstream(ckpts + "/.latest.tmp.12345") << "step-00000500\n";
  std::ofstream(ckpts + "/.best.tmp.7") << "";
  std::ofstream(ckpts + "/notes.tmp") << "the user's";
  std::ofstream(ckpts + "/.latest.tmp.old") << "the user's";

  clean_checkpoints(run_, /*keep_last=*/2);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(ckpts)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".latest.tmp.old", "best", "latest", "notes.tmp",
                                             "step-00000100", "step-00000300", "step-00000400",
                                             "step-00000500"}));
  EXPECT_EQ(latest_checkpoint(run_), latest);
}

TEST_F(CheckpointTest, PruningLeavesNoHalfDeletedDirectory) {
  save(100);
  save(200);
  save(300);
  EXPECT_FALSE(fs::exists(run_ + "/checkpoints/step-00000100"));
  for (const auto& e : fs::directory_iterator(run_ + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".deleting"), std::string::npos);
}

// A full disk while copying the vocabulary names the file that could not be
// written, like every other failed write (std::filesystem::copy_file said
// "Input/output error" and named the source). RLIMIT_FSIZE fails writes
// past its size as a full disk would.
TEST_F(CheckpointTest, AFullDiskWhileCopyingTheVocabularyNamesTheCopy) {
  std::ofstream(run_ + "/vocab.model", std::ios::trunc) << std::string(1 << 20, 'v');
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &before), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = before;
  small.rlim_cur = 256 << 10;  // the weights fit, the vocabulary does not
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    save(9);
  } catch (const std::exception& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(message, run_ + "/checkpoints/.step-00000009.tmp/vocab.model: write failed (disk full?)");
  EXPECT_FALSE(fs::exists(run_ + "/checkpoints/latest"));
}

}  // namespace
}  // namespace moe::io
