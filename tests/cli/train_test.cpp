// End-to-end tests of moe-train: a tiny corpus and vocabulary made here, a
// tiny MoE model trained by the real binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
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
  // Flag errors look the same: one line, exit 1.
  r = run_app("moe-train", shell_quote(write_recipe(d)) + " --bogus");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-train: error: The following argument was not expected: --bogus\n");
}

TEST(MoeTrain, EachSetTakesOneKeyValue) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d));
  // Flags before the recipe: the recipe is not taken as a second override.
  auto r = run_app("moe-train", "--set train.seed=9 --set train.max_steps=3 " + recipe + " --dump-config");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("seed: 9"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max_steps: 3"), std::string::npos) << r.out;
  // A second value after one --set is a stray argument, not a silent override.
  r = run_app("moe-train", recipe + " --dump-config --set train.seed=9 train.max_steps=3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("train.max_steps=3"), std::string::npos) << r.err;
}

TEST(MoeTrain, AMaxLenThatKeepsNoPairNamesTheKey) {
  const std::string d = temp_dir();
  const auto r = run_app("moe-train", shell_quote(write_recipe(d)) + " -q --set data.max_len=1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("data.max_len: no training pair of " + tiny_corpus() + " fits in 1 tokens a side"),
            std::string::npos)
      << r.err;
}

TEST(MoeTrain, DumpConfigRoundTrips) {
  const std::string d = temp_dir();
  // A recipe named by a relative path, whose relative paths resolve to relative ones.
  const std::string recipe = fs::relative(write_recipe(d)).string();
  ASSERT_FALSE(fs::path(recipe).is_absolute());
  const auto first = run_app("moe-train", shell_quote(recipe) + " --dump-config --set train.seed=9");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("seed: 9"), std::string::npos);
  // Read back from another folder: paths are dumped absolute, so they do not
  // move with the file.
  fs::create_directories(d + "/elsewhere");
  const std::string dumped = write_file(d + "/elsewhere", "dumped.yaml", first.out);
  const auto second = run_app("moe-train", shell_quote(dumped) + " --dump-config");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST(MoeTrain, TheRunsOwnRecipeTrainsOnFromTheRunDirectory) {
  const std::string d = temp_dir();
  ASSERT_EQ(run_app("moe-train", shell_quote(write_recipe(d)) + " -q --set train.max_steps=1").exit_code, 0);
  const auto r = run_app("moe-train", shell_quote(d + "/run/recipe.yaml") + " -q --set train.max_steps=2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(losses(d + "/run").size(), 2u);  // resumed in the same run directory
  // A `cp -a` copy's recipe trains the copy on, and leaves the original alone.
  ASSERT_EQ(std::system(("cp -a " + shell_quote(d + "/run") + " " + shell_quote(d + "/copy")).c_str()), 0);
  const auto c = run_app("moe-train", shell_quote(d + "/copy/recipe.yaml") + " -q --set train.max_steps=3");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(losses(d + "/copy").size(), 3u);
  EXPECT_EQ(losses(d + "/run").size(), 2u);
  EXPECT_TRUE(fs::exists(d + "/run/checkpoints/step-00000002"));
  EXPECT_FALSE(fs::exists(d + "/run/checkpoints/step-00000003"));
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

// One line on stderr: the project's rule for every input error.
int line_count(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(MoeTrain, ABadVocabularyIsRefusedBeforeTheRunDirectoryCopiesIt) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  const std::string garbage = write_file(d, "garbage.model", "not a protobuf\n");
  auto r = run_app("moe-train", shell_quote(recipe) + " -q --set vocab.model=" + shell_quote(garbage));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(garbage + ": not a SentencePiece model"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_FALSE(fs::exists(d + "/run/vocab.model"));
  r = run_app("moe-train", shell_quote(recipe) + " -q --set vocab.model=" + shell_quote(d));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d + ": vocab.model: not a regular file"), std::string::npos) << r.err;
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1");  // the right model still works
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(MoeTrain, TheRecipeIsNotOverwrittenByTheRunDirectorysCopy) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  const std::string before = read_file(recipe);
  const auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1 --set checkpoint.dir=" +
                                          shell_quote(d));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("choose another checkpoint.dir"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(recipe), before);
}

TEST(MoeTrain, ASecondTrainerInTheSameRunDirectoryIsRefused) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  fs::create_directories(d + "/run");
  const int fd = ::open((d + "/run/train.lock").c_str(), O_RDWR | O_CREAT, 0644);  // as a running moe-train holds it
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d + "/run: checkpoint.dir: another moe-train is training in this run directory"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(d + "/run/metrics.jsonl"));
  ::close(fd);
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(MoeTrain, ADamagedTrainerStateOrLatestPointerIsAOneLineError) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  ASSERT_EQ(run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=2").exit_code, 0);
  const std::string checkpoint = d + "/run/checkpoints/step-00000002";
  const std::string state_path = checkpoint + "/trainer_state.json";
  const std::string state = read_file(state_path);
  const auto resume_with_state = [&](const std::string& edited) {
    write_file(checkpoint, "trainer_state.json", edited);
    return run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=4");
  };
  auto edit = [&](const std::string& key, const std::string& value) {
    auto j = nlohmann::json::parse(state);
    j[key] = nlohmann::json::parse(value);
    return j.dump();
  };
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"step", "99999999999999999999"}, {"step", "-4"}, {"data_batch", "-100"}, {"tokens", "1.5"}}) {
    const auto r = resume_with_state(edit(key, value));
    EXPECT_EQ(r.exit_code, 1) << key << "=" << value;
    EXPECT_NE(r.err.find(state_path + ": '" + key + "' must be a non-negative integer"), std::string::npos) << r.err;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
  }
  auto r = resume_with_state(edit("step", "3"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("step 3 does not match the checkpoint step-00000002"), std::string::npos) << r.err;
  fs::remove(state_path);
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(state_path + ": missing or empty"), std::string::npos) << r.err;
  write_file(checkpoint, "trainer_state.json", state);

  write_file(d + "/run/checkpoints", "latest", std::string("\x01\xff/x\n", 5));
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("latest:1: does not name a checkpoint directory: '\\x01\\xff/x'"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  write_file(d + "/run/checkpoints", "latest", "step-00000002\n");
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=3");  // intact again: resumes
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The probe's files: a folder of the user's that checkpoint.dir names.
TEST(MoeTrain, ANonEmptyDirectoryThatIsNoRunDirectoryIsRefused) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  const std::string user_dir = d + "/userdir";
  fs::create_directories(user_dir);
  write_file(user_dir, "recipe.yaml", "notes\n");
  write_file(user_dir, "report.html", "keep\n");
  auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1 --set checkpoint.dir=" +
                                    shell_quote(user_dir));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-train: error: " + user_dir +
                       ": checkpoint.dir: not empty and not a moe-train run directory (it has no "
                       "train.lock), so the run would overwrite its files: choose another "
                       "checkpoint.dir\n");
  EXPECT_EQ(read_file(user_dir + "/recipe.yaml"), "notes\n");
  EXPECT_EQ(read_file(user_dir + "/report.html"), "keep\n");
  EXPECT_FALSE(fs::exists(user_dir + "/train.lock"));
  const std::string file = write_file(d, "a-file", "keep\n");
  r = run_app("moe-train", shell_quote(recipe) + " -q --set checkpoint.dir=" + shell_quote(file));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-train: error: " + file + ": checkpoint.dir: not a directory\n");
  // An empty folder is a new run directory, and so is one with only an encoded-corpus cache
  // (bench/train_bench.sh links one in).
  fs::create_directories(d + "/empty");
  fs::create_directories(d + "/cache-only/cache");
  for (const std::string& dir : {d + "/empty", d + "/cache-only"}) {
    r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1 --set checkpoint.dir=" +
                                 shell_quote(dir));
    EXPECT_EQ(r.exit_code, 0) << dir << ": " << r.err;
  }
}

// A run killed before its first checkpoint leaves train.lock, vocab.model and
// cache/ behind: rerunning resumes there, and so does a `cp -a` copy of a run
// directory (as scripts/experiments.sh continues runs).
TEST(MoeTrain, AHalfStartedOrCopiedRunDirectoryStillTrains) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1 --set model.vocab=48");
  ASSERT_EQ(r.exit_code, 1);  // stops after setting up the run directory, as a kill would
  EXPECT_NE(r.err.find("model.vocab: 48"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(d + "/run/train.lock"));
  ASSERT_FALSE(fs::exists(d + "/run/checkpoints"));
  const auto copy_a = [](const std::string& from, const std::string& to) {
    return std::system(("cp -a " + shell_quote(from) + " " + shell_quote(to)).c_str());
  };
  ASSERT_EQ(copy_a(d + "/run", d + "/half-copy"), 0);
  for (const std::string& dir : {d + "/run", d + "/half-copy"}) {
    r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=1 --set checkpoint.dir=" +
                                 shell_quote(dir));
    ASSERT_EQ(r.exit_code, 0) << dir << ": " << r.err;
  }
  ASSERT_EQ(copy_a(d + "/run", d + "/copy"), 0);
  r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=2 --set checkpoint.dir=" +
                               shell_quote(d + "/copy"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(losses(d + "/copy").size(), 2u);  // resumed at step 1
}

// A run killed (or out of disk) before its first checkpoint had logged steps
// that the rerun trains again from scratch: the log holds each step once.
TEST(MoeTrain, ARestartWithoutACheckpointDropsTheKilledAttemptsRecords) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  fs::create_directories(d + "/run");
  write_file(d + "/run", "train.lock", "");
  std::string killed_attempt;
  for (int step = 1; step <= 3; ++step)
    killed_attempt += "{\"type\":\"train\",\"step\":" + std::to_string(step) + ",\"loss\":99.0}\n";
  killed_attempt += "{\"type\":\"dev\",\"step\":2,\"loss\":99.0}\n";
  write_file(d + "/run", "metrics.jsonl", killed_attempt);
  const auto r = run_app("moe-train", shell_quote(recipe) + " -q --set train.max_steps=4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(d + "/run/metrics.jsonl");
  std::vector<std::int64_t> steps;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    steps.push_back(j["step"].get<std::int64_t>());
    EXPECT_NE(j["loss"].get<double>(), 99.0) << line;
  }
  EXPECT_EQ(steps, (std::vector<std::int64_t>{1, 2, 3, 4}));
}

// Hand-edited records (a step that is no number, a type that is no string)
// are dropped on resume, and the report skips them, instead of an exit-2
// JSON type error at every later start.
TEST(MoeTrain, DamagedMetricsRecordsAreDroppedOnResume) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d)) + " -q --set checkpoint.every=2";
  ASSERT_EQ(run_app("moe-train", recipe + " --set train.max_steps=2").exit_code, 0);
  std::ofstream(d + "/run/metrics.jsonl", std::ios::app)
      << "{\"type\":\"train\",\"step\":\"3\"}\n{\"type\":null,\"step\":1}\n{\"step\":null}\nnot json\n";
  const auto r = run_app("moe-train", recipe + " --set train.max_steps=4 --set eval.every=2 --set eval.metric=loss");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(losses(d + "/run").size(), 4u);  // parses: the line that is no JSON went too
  EXPECT_EQ(read_file(d + "/run/metrics.jsonl").find("null"), std::string::npos);
}

// What kills at any point of writing and pruning leave behind goes at the next
// start, even one that trains no further step; the user's files stay.
TEST(MoeTrain, AStartRemovesWhatKilledWritesLeftAndPrunes) {
  const std::string d = temp_dir();
  const std::string recipe = write_recipe(d);
  const std::string args = " -q --set train.max_steps=4 --set checkpoint.every=1 --set checkpoint.keep_last=2";
  auto r = run_app("moe-train", shell_quote(recipe) + args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = d + "/run", ckpts = d + "/run/checkpoints";
  const std::vector<std::string> leftovers = {run + "/.recipe.yaml.tmp.123",
                                              run + "/.report.html.tmp.4567",
                                              run + "/.metrics.jsonl.tmp.8",
                                              run + "/vocab.model.tmp",
                                              run + "/cache/.train.de.0123abcd.ids.tmp.42",
                                              ckpts + "/.latest.tmp.99",
                                              ckpts + "/.step-00000003.tmp",
                                              ckpts + "/.step-00000002.deleting",
                                              ckpts + "/step-00000001"};  // half-deleted while pruning
  const std::vector<std::string> users_files = {run + "/notes.txt", run + "/.recipe.yaml.tmp.bak",
                                                run + "/cache/seed.tmp"};
  for (const std::string& path : leftovers) {
    if (fs::path(path).filename().string().find("step-") != std::string::npos) {
      fs::create_directories(path);
      write_file(path, "trainer_state.json", "{}");
    } else {
      write_file(fs::path(path).parent_path().string(), fs::path(path).filename().string(), "half");
    }
  }
  for (const std::string& path : users_files)
    write_file(fs::path(path).parent_path().string(), fs::path(path).filename().string(), "mine");
  r = run_app("moe-train", shell_quote(recipe) + args);  // max_steps already reached
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& path : leftovers) EXPECT_FALSE(fs::exists(path)) << path;
  for (const std::string& path : users_files) EXPECT_EQ(read_file(path), "mine") << path;
  std::vector<std::string> checkpoints;
  for (const auto& e : fs::directory_iterator(ckpts)) checkpoints.push_back(e.path().filename().string());
  std::sort(checkpoints.begin(), checkpoints.end());
  EXPECT_EQ(checkpoints, (std::vector<std::string>{"latest", "step-00000003", "step-00000004"}));
  EXPECT_EQ(losses(run).size(), 4u);
}

TEST(MoeTrain, AModelTooLargeToCountOrHoldFailsBeforeAnythingIsWritten) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d));
  const std::string huge = " --set model.d_model=65536 --set model.ffn_dim=1000000"
                           " --set model.moe.num_experts=1048576 --set model.enc_layers=64"
                           " --set model.dec_layers=64";
  for (const std::string mode : {" --plan", " --plan --format json", " -q"}) {
    const auto r = run_app("moe-train", recipe + mode + huge);
    EXPECT_EQ(r.exit_code, 1) << mode;
    EXPECT_EQ(r.out, "") << mode;
    EXPECT_NE(r.err.find("moe-train: error: the model is too large to count: more than 2^63 parameters"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
  }
  // 2^48 parameters count fine, but no machine here holds them.
  const auto r = run_app("moe-train", recipe + " -q --set model.d_model=65536 --set model.ffn_dim=1000000"
                                               " --set model.moe.num_experts=1024 --set model.enc_layers=1"
                                               " --set model.dec_layers=1 --set model.moe_offset=0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PiB per device (moe-train --plan), more than the "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("of memory and swap here (model.vocab 64, model.d_model 65536"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_FALSE(fs::exists(d + "/run"));
}

TEST(MoeTrain, ALanguageListedTwiceIsRefused) {
  const std::string d = temp_dir();
  const auto r = run_app("moe-train", shell_quote(write_recipe(d)) + " -q --set 'data.langs=[de,de]'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-train: error: --set: key 'data.langs': 'de' is listed twice\n");
  EXPECT_FALSE(fs::exists(d + "/run"));
}

CommandResult train_redirected(const std::string& args_and_redirections) {
  return run_app_redirected("moe-train", args_and_redirections);
}

TEST(MoeTrain, AFailedWriteToStdoutIsAnError) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const std::string recipe = shell_quote(write_recipe(temp_dir()));
  for (const std::string& args :
       {recipe + " --dump-config >/dev/full", recipe + " --plan >/dev/full",
        recipe + " --plan --format json 1>&-", std::string("--help-config >/dev/full"),
        std::string("--version >/dev/full"), std::string("--version 1>&-")}) {
    const CommandResult r = train_redirected(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_EQ(r.err, "moe-train: error: <stdout>: write failed\n") << args;
  }
}

TEST(MoeTrain, InvalidUtf8InTheCorpusNamesFileAndLine) {
  const std::string d = temp_dir();
  const std::string corpus = d + "/corpus";
  fs::create_directories(corpus);
  fs::copy(tiny_corpus() + "/train", corpus + "/train", fs::copy_options::recursive);
  fs::copy(tiny_corpus() + "/dev", corpus + "/dev", fs::copy_options::recursive);
  std::string de = read_file(corpus + "/train/de.tsv");
  const std::size_t line4 = [&] {
    std::size_t pos = 0;
    for (int i = 0; i < 4; ++i) pos = de.find('\n', pos) + 1;
    return pos;
  }();
  de.insert(line4, "\xff");  // line 5 starts with a byte that UTF-8 never uses
  write_file(corpus + "/train", "de.tsv", de);
  const auto r = run_app("moe-train", shell_quote(write_recipe(d)) + " -q --set train.max_steps=1 --set data.corpus_dir=" +
                                          shell_quote(corpus));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(corpus + "/train/de.tsv:5: invalid UTF-8"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace moe::test

namespace moe::test {
namespace {

// mpirun as CI runs it: as root, possibly in a container.
std::string mpirun(int ranks) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --oversubscribe -np " +
         std::to_string(ranks) + " ";
}

// The same recipe and seed on meshes 1, {data:2}, {expert:2}, {data:2,expert:2}:
// the same loss curve up to float summation order. Dropout is off (masks are
// drawn per rank) and capacity is roomy (a token's experts must not depend on
// which rank's groups it lands in); the aux loss is a mean over each rank's
// own groups, so it is weighted out (aux_loss_coef 0) to compare exactly the
// quantity every mesh optimises identically.
TEST(MoeTrainMesh, EveryMeshGivesTheSameLossCurve) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const std::string common =
      " -q --set train.max_steps=8 --set model.dropout=0 --set model.moe.capacity=64"
      " --set model.moe.second_expert_policy=all --set model.moe.aux_loss_coef=0";
  std::vector<std::vector<double>> curves;
  for (const auto& [ranks, mesh] : std::vector<std::pair<int, std::string>>{
           {1, ""}, {2, " --set mesh.data=2"}, {2, " --set mesh.expert=2"}, {4, " --set mesh.data=2 --set mesh.expert=2"}}) {
    const std::string dir = temp_dir();
    const std::string cmd = (ranks > 1 ? mpirun(ranks) : "") + std::string(MOE_BIN_DIR) + "/moe-train " +
                            shell_quote(write_recipe(dir)) + common + mesh + " >" + dir + "/out 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/out");
    curves.push_back(losses(dir + "/run"));
    ASSERT_EQ(curves.back().size(), 8u) << mesh;
  }
  for (std::size_t m = 1; m < curves.size(); ++m)
    for (std::size_t i = 0; i < curves[0].size(); ++i)
      EXPECT_NEAR(curves[m][i], curves[0][i], 1e-4 * std::abs(curves[0][i])) << "mesh " << m << " step " << i + 1;
}

// Experts trained on 4 ranks resume on 1 and on 2: the checkpoint reshards.
TEST(MoeTrainMesh, CheckpointsReshardAcrossMeshes) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const std::string dir = temp_dir();
  const std::string recipe = shell_quote(write_recipe(dir));
  const std::string bin = std::string(MOE_BIN_DIR) + "/moe-train ";
  auto run = [&](const std::string& prefix, const std::string& args) {
    const std::string cmd = prefix + bin + recipe + " -q" + args + " >" + dir + "/out 2>&1";
    return std::system(cmd.c_str());
  };
  // (validation too: 7 dev sentences a language cannot split evenly over the ranks)
  ASSERT_EQ(run(mpirun(4), " --set train.max_steps=3 --set mesh.data=2 --set mesh.expert=2 --set eval.every=3"
                           " --set eval.max_sentences=7"),
            0)
      << read_file(dir + "/out");
  EXPECT_TRUE(fs::exists(dir + "/run/checkpoints/step-00000003/weights-experts-1-of-2.safetensors"));
  ASSERT_EQ(run("", " --set train.max_steps=5"), 0) << read_file(dir + "/out");
  ASSERT_EQ(run(mpirun(2), " --set train.max_steps=7 --set mesh.expert=2"), 0) << read_file(dir + "/out");
  EXPECT_EQ(losses(dir + "/run").size(), 7u);
}

// A rank killed mid-run ends the whole job within seconds with a non-zero
// code, and the last good checkpoint still loads (training resumes from it).
TEST(MoeTrainMesh, AKilledRankEndsTheJobAndTheLastCheckpointSurvives) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const std::string dir = temp_dir();
  const std::string recipe = shell_quote(write_recipe(dir));
  // Checkpoint every 2 steps, run "forever"; once a checkpoint exists, kill one rank.
  const std::string script =
      "cd " + shell_quote(dir) + " || exit 1; (" + mpirun(2) + std::string(MOE_BIN_DIR) + "/moe-train " + recipe +
      " -q --set train.max_steps=100000 --set checkpoint.every=2 --set mesh.data=2 --set train.log_every=1"
      " --set data.prefetch_batches=" + std::to_string(2) + " --set checkpoint.keep_last=2 >out 2>&1; echo $? >rc) &"
      " for i in $(seq 600); do [ -f run/checkpoints/latest ] && break; sleep 0.1; done;"
      // a rank of this job: a moe-train process whose command line names this test's directory
      " victim=$(for p in $(pgrep -x moe-train); do grep -q " + shell_quote(dir) +
      " /proc/$p/cmdline 2>/dev/null && echo $p; done | tail -n 1); kill -9 $victim;"
      " for i in $(seq 300); do [ -f rc ] && break; sleep 0.1; done; [ -f rc ]";
  ASSERT_EQ(std::system(("bash -c " + shell_quote(script)).c_str()), 0) << "the job did not end within 30 s";
  EXPECT_NE(read_file(dir + "/rc"), "0\n") << read_file(dir + "/out");
  // Resume on one process: the latest checkpoint loads and training goes on.
  const auto r = run_app("moe-train", recipe + " -q --set train.max_steps=3 --set mesh.data=1");
  (void)r;
  const std::string latest = read_file(dir + "/run/checkpoints/latest");
  ASSERT_FALSE(latest.empty());
  const std::string cmd = "cd " + shell_quote(dir) + " && " + std::string(MOE_BIN_DIR) + "/moe-train " + recipe +
                          " -q --set train.max_steps=1000 --set train.max_minutes=0.02 >out2 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/out2");
}

}  // namespace
}  // namespace moe::test

namespace moe::test {
namespace {

// The overfitting check: on the toy corpus, with the dev set made of
// training sentences, a small MoE model's loss falls below 1.5 and its dev
// BLEU (greedy) passes 40 within 600 steps (measured: loss ~1.0, BLEU ~70).
TEST(MoeTrain, TinyModelOverfitsItsTrainingSentences) {
  const std::string d = temp_dir();
  fs::create_directories(d + "/corpus/train");
  fs::create_directories(d + "/corpus/dev");
  for (const std::string lang : {"de", "fr"}) {
    fs::copy_file(tiny_corpus() + "/train/" + lang + ".tsv", d + "/corpus/train/" + lang + ".tsv");
    std::ifstream in(d + "/corpus/train/" + lang + ".tsv");
    std::ofstream dev(d + "/corpus/dev/" + lang + ".tsv");
    std::string line;
    for (int i = 0; i < 20 && std::getline(in, line); ++i) dev << line << "\n";
  }
  const std::string recipe = write_recipe(d, "");
  const auto r = run_app("moe-train", shell_quote(recipe) + " -q --set data.corpus_dir=" + shell_quote(d + "/corpus") +
                                          " --set train.max_steps=600 --set eval.every=600 --set model.dropout=0"
                                          " --set optimizer.lr=0.005 --set schedule.warmup_steps=30"
                                          " --set train.batch_tokens=256 --set model.d_model=64 --set model.ffn_dim=128"
                                          " --set model.heads=4 --set eval.beam_size=1 --set train.log_every=100");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(d + "/run/metrics.jsonl");
  double last_loss = 1e9, bleu = -1;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") last_loss = j["loss"].get<double>();
    if (j["type"] == "dev") bleu = j["bleu"].get<double>();
  }
  EXPECT_LT(last_loss, 1.5);
  EXPECT_GT(bleu, 40.0);
}

TEST(MoeTrain, PlanPrintsTableAndJsonWithoutTraining) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d));
  const auto table = run_app("moe-train", recipe + " --plan");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_FALSE(fs::exists(d + "/run"));  // nothing trained, nothing written
  const auto json = run_app("moe-train", recipe + " --plan --format json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto parsed = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(parsed.is_object()) << json.out;
  const auto bad = run_app("moe-train", recipe + " --plan --mesh data=1,expert=3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("expert"), std::string::npos) << bad.err;
  EXPECT_NE(run_app("moe-train", recipe + " --mesh data=2").exit_code, 0);  // --mesh needs --plan
}

}  // namespace
}  // namespace moe::test

namespace moe::test {
namespace {

// SIGTERM (as Ctrl-C's SIGINT) ends training at the next step boundary with
// a checkpoint of that step, and exit code 0.
TEST(MoeTrain, SigtermSavesACheckpointAndExitsZero) {
  const std::string dir = temp_dir();
  const std::string recipe = shell_quote(write_recipe(dir));
  const std::string script =
      "cd " + shell_quote(dir) + " || exit 1; (" + std::string(MOE_BIN_DIR) + "/moe-train " + recipe +
      " -q --set train.max_steps=1000000 --set checkpoint.every=1000000 >out 2>&1; echo $? >rc) &"
      " for i in $(seq 600); do [ -s run/metrics.jsonl ] && break; sleep 0.1; done;"
      " victim=$(for p in $(pgrep -x moe-train); do grep -q " + shell_quote(dir) +
      " /proc/$p/cmdline 2>/dev/null && echo $p; done | tail -n 1); kill -TERM $victim;"
      " for i in $(seq 300); do [ -f rc ] && break; sleep 0.1; done; [ -f rc ]";
  ASSERT_EQ(std::system(("bash -c " + shell_quote(script)).c_str()), 0) << "moe-train did not stop";
  EXPECT_EQ(read_file(dir + "/rc"), "0\n") << read_file(dir + "/out");
  const std::string latest = read_file(dir + "/run/checkpoints/latest");
  ASSERT_FALSE(latest.empty());
  // The checkpoint is of the last finished step: the log's last step.
  const auto curve = losses(dir + "/run");
  char name[32];
  std::snprintf(name, sizeof name, "step-%08zu\n", curve.size());
  EXPECT_EQ(latest, name);
}

}  // namespace
}  // namespace moe::test

namespace moe::test {
namespace {

std::vector<nlohmann::json> records(const std::string& run_dir, const std::string& type) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == type) out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json trainer_state(const std::string& checkpoint_dir) {
  return nlohmann::json::parse(read_file(checkpoint_dir + "/trainer_state.json"));
}

// A checkpoint in the middle of a log window (log_every 5, stop at 12): the
// resumed run goes on with the saved window, so its records are those of the
// uninterrupted run, and the partial record the stop wrote at 12 goes.
TEST(MoeTrain, AResumeInTheMiddleOfALogWindowLogsTheUninterruptedRecords) {
  const std::string a = temp_dir(), b = temp_dir();
  const std::string common = " -q --set train.log_every=5";
  ASSERT_EQ(run_app("moe-train", shell_quote(write_recipe(a)) + common + " --set train.max_steps=24").exit_code, 0);
  const std::string rb = shell_quote(write_recipe(b));
  ASSERT_EQ(run_app("moe-train", rb + common + " --set train.max_steps=12").exit_code, 0);
  const auto stopped = records(b + "/run", "train");
  ASSERT_EQ(stopped.size(), 3u);  // 5, 10 and the stop's partial window at 12
  EXPECT_EQ(stopped.back()["step"], 12);
  const auto r = run_app("moe-train", rb + common + " --set train.max_steps=24");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto whole = records(a + "/run", "train"), resumed = records(b + "/run", "train");
  ASSERT_EQ(whole.size(), 5u);  // 5, 10, 15, 20, 24
  ASSERT_EQ(resumed.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i)
    for (const char* key : {"step", "loss", "nll", "ppl", "aux", "gnorm", "lr", "tokens", "expert_load", "dropped"})
      EXPECT_EQ(resumed[i][key], whole[i][key]) << key << " of record " << i;
}

// The run ends at 12 with a validation that improves on step 8's, after step
// 12's checkpoint was written: step 12's trainer state must name it best, or
// the resumed run would measure later validations against step 8's.
TEST(MoeTrain, AValidationAfterTheLastCheckpointUpdatesItsTrainerState) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d)) +
                             " -q --set eval.every=8 --set eval.metric=loss --set checkpoint.every=4"
                             " --set train.log_every=4";
  ASSERT_EQ(run_app("moe-train", recipe + " --set train.max_steps=12").exit_code, 0);
  auto dev = records(d + "/run", "dev");
  ASSERT_EQ(dev.size(), 2u);
  ASSERT_LT(dev[1]["loss"].get<double>(), dev[0]["loss"].get<double>());  // the premise: 12 improves on 8
  EXPECT_EQ(read_file(d + "/run/checkpoints/best"), "step-00000012\n");
  const auto state = trainer_state(d + "/run/checkpoints/step-00000012");
  EXPECT_EQ(state["best_step"], 12);
  EXPECT_EQ(state["best_metric"], dev[1]["loss"]);
  EXPECT_EQ(state["best_metric_name"], "loss");
  EXPECT_EQ(state["evals_without_improvement"], 0);
  const auto r = run_app("moe-train", recipe + " --set train.max_steps=24");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  dev = records(d + "/run", "dev");
  const auto lowest = std::min_element(dev.begin(), dev.end(), [](const auto& x, const auto& y) {
    return x["loss"].template get<double>() < y["loss"].template get<double>();
  });
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld\n", static_cast<long long>((*lowest)["step"].get<std::int64_t>()));
  EXPECT_EQ(read_file(d + "/run/checkpoints/best"), name);
}

// A run validated by loss decodes only at its last validation when
// eval.final_decode asks (the report's per-language BLEU bars): after the
// loop (step 6), or in it when the budget ends on an eval.every step (8),
// without a second record for that step; or where early stopping ends the
// run. Without the key nothing decodes.
// eval.max_sentences caps the dev pairs of each language for the loss and the
// decoding alike; 0 means all of them for both (it once decoded none).
TEST(MoeTrain, MaxSentencesCapsLossAndDecodingAlike) {
  const std::string dev_de = read_file(tiny_corpus() + "/dev/de.tsv");
  const auto all_de = static_cast<std::size_t>(std::count(dev_de.begin(), dev_de.end(), '\n'));
  ASSERT_GT(all_de, 2u);
  for (const int cap : {0, 2}) {
    const std::string d = temp_dir();
    const auto r = run_app("moe-train", shell_quote(write_recipe(d)) +
                                            " -q --set eval.every=2 --set eval.metric=bleu --set train.max_steps=2"
                                            " --set eval.max_sentences=" + std::to_string(cap));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto dev = records(d + "/run", "dev");
    ASSERT_EQ(dev.size(), 1u);
    const auto& de = dev[0]["per_lang"]["de"];
    EXPECT_EQ(de["sentences"], cap == 0 ? all_de : 2u) << "cap " << cap;
    EXPECT_TRUE(de.contains("loss")) << "cap " << cap;
    EXPECT_TRUE(de.contains("bleu")) << "cap " << cap;
    // Two languages make no high/medium/low thirds.
    EXPECT_TRUE(dev[0]["per_group"].empty()) << dev[0]["per_group"].dump();
  }
}

TEST(MoeTrain, FinalDecodeScoresOnlyTheLastValidation) {
  for (const int steps : {6, 8}) {
    const std::string d = temp_dir();
    const std::string recipe = shell_quote(write_recipe(d)) +
                               " -q --set eval.every=4 --set eval.metric=loss --set eval.final_decode=true"
                               " --set train.max_steps=" + std::to_string(steps);
    const auto r = run_app("moe-train", recipe);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto dev = records(d + "/run", "dev");
    ASSERT_EQ(dev.size(), 2u) << "steps " << steps;
    EXPECT_FALSE(dev[0].contains("bleu"));
    EXPECT_FALSE(dev[0]["per_lang"]["de"].contains("bleu"));
    EXPECT_EQ(dev[1]["step"], steps);
    ASSERT_TRUE(dev[1].contains("bleu")) << "steps " << steps;
    EXPECT_TRUE(dev[1].contains("chrf"));
    for (const char* lang : {"de", "fr"}) {
      EXPECT_TRUE(dev[1]["per_lang"][lang].contains("bleu")) << lang;
      EXPECT_TRUE(dev[1]["per_lang"][lang].contains("loss")) << lang;
    }
    // `best` still follows the loss.
    EXPECT_EQ(trainer_state(d + "/run/checkpoints/step-0000000" + std::to_string(steps))["best_metric_name"], "loss");
    EXPECT_NE(read_file(d + "/run/report.html").find("Dev BLEU by source language"), std::string::npos);
    // A finished run started again trains and validates nothing more.
    ASSERT_EQ(run_app("moe-train", recipe).exit_code, 0);
    EXPECT_EQ(records(d + "/run", "dev").size(), 2u);
  }
  {
    // Early stopping makes a validation the last: lr 0 repeats step 4's loss at 8.
    const std::string d = temp_dir();
    const auto r = run_app("moe-train", shell_quote(write_recipe(d)) +
                                            " -q --set eval.every=4 --set eval.metric=loss --set eval.final_decode=true"
                                            " --set eval.patience=1 --set optimizer.lr=0 --set train.max_steps=100");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto dev = records(d + "/run", "dev");
    ASSERT_EQ(dev.size(), 2u);
    EXPECT_EQ(dev[1]["step"], 8);
    EXPECT_FALSE(dev[0].contains("bleu"));
    EXPECT_TRUE(dev[1].contains("bleu"));
  }
  const std::string d = temp_dir();
  const auto r = run_app("moe-train", shell_quote(write_recipe(d)) +
                                          " -q --set eval.every=4 --set eval.metric=loss --set train.max_steps=6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& rec : records(d + "/run", "dev")) EXPECT_FALSE(rec.contains("bleu"));
  EXPECT_EQ(read_file(d + "/run/report.html").find("Dev BLEU by source language"), std::string::npos);
}

// eval.final_decode on a mesh: every rank agrees that a validation is the
// last (rank 0 decodes, the others wait in the broadcast), and with sharded
// experts, where nothing can decode, the run still ends once, undecoded.
TEST(MoeTrainMesh, FinalDecodeOnAMesh) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  for (const auto& [mesh, decodes] : std::vector<std::pair<std::string, bool>>{
           {" --set mesh.data=2", true}, {" --set mesh.data=2 --set mesh.expert=2", false}}) {
    const std::string dir = temp_dir();
    const std::string cmd = mpirun(mesh.find("expert") != std::string::npos ? 4 : 2) + std::string(MOE_BIN_DIR) +
                            "/moe-train " + shell_quote(write_recipe(dir)) +
                            " -q --set train.max_steps=8 --set eval.every=4 --set eval.metric=loss"
                            " --set eval.final_decode=true" + mesh + " >" + dir + "/out 2>&1";
    ASSERT_EQ(std::system(("timeout 120 " + cmd).c_str()), 0) << read_file(dir + "/out");
    const auto dev = records(dir + "/run", "dev");
    ASSERT_EQ(dev.size(), 2u) << mesh;
    EXPECT_FALSE(dev[0].contains("bleu")) << mesh;
    EXPECT_EQ(dev[1].contains("bleu"), decodes) << mesh;
  }
}

// What a resume must share with its checkpoint: every optimiser and schedule
// key, and the keys that define the batch stream. The refusal names the key.
TEST(MoeTrain, AChangedOptimizerScheduleOrDataStreamIsRefusedOnResume) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d));
  ASSERT_EQ(run_app("moe-train", recipe + " -q --set train.max_steps=2").exit_code, 0);
  const std::string metrics = read_file(d + "/run/metrics.jsonl");
  for (const auto& [set, expected] : std::vector<std::pair<std::string, std::string>>{
           {"optimizer.lr=0.5", "optimizer.lr: 0.003 in the checkpoint, 0.5 in the recipe"},
           {"optimizer.beta1=0.8", "optimizer.beta1: 0.9 in the checkpoint, 0.8 in the recipe"},
           {"optimizer.decay_pow=0.5", "optimizer.decay_pow: 0.8 in the checkpoint, 0.5 in the recipe"},
           {"optimizer.min_dim_size_to_factor=8", "optimizer.min_dim_size_to_factor: 128 in the checkpoint, 8"},
           {"schedule.warmup_steps=5", "schedule.warmup_steps: 10 in the checkpoint, 5 in the recipe"},
           {"train.seed=4", "train.seed: 3 in the checkpoint, 4 in the recipe"},
           {"train.batch_tokens=100", "train.batch_tokens: 128 in the checkpoint, 100 in the recipe"},
           {"data.sampling_temperature=2", "data.sampling_temperature: 5.0 in the checkpoint, 2.0 in the recipe"},
           {"data.pool_batches=3", "data.pool_batches: 64 in the checkpoint, 3 in the recipe"},
           {"data.langs=[de]", "data.langs: the checkpoint trained on [de, fr], this run would train on [de]"},
           {"data.langs=[fr,de]", "data.langs: the checkpoint trained on [de, fr], this run would train on [fr, de]"}}) {
    const auto r = run_app("moe-train", recipe + " -q --set train.max_steps=4 --set " + set);
    EXPECT_EQ(r.exit_code, 1) << set;
    EXPECT_NE(r.err.find("step-00000002: cannot resume: " + expected), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("or train into a new checkpoint.dir"), std::string::npos) << r.err;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
  }
  EXPECT_EQ(read_file(d + "/run/metrics.jsonl"), metrics);
  EXPECT_EQ(read_file(d + "/run/checkpoints/latest"), "step-00000002\n");
  // The same languages named explicitly, more batches per update and other stop rules are fine.
  const auto r = run_app("moe-train", recipe + " -q --set train.max_steps=4 --set data.langs=[de,fr]"
                                               " --set train.accum_steps=2 --set train.max_minutes=60");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A corpus edited under a run: the resume goes on (as Marian and fairseq do)
// and says so in one line.
TEST(MoeTrain, ACorpusThatChangedSinceTheCheckpointIsReported) {
  const std::string d = temp_dir();
  fs::copy(tiny_corpus(), d + "/corpus", fs::copy_options::recursive);
  const std::string recipe =
      shell_quote(write_recipe(d)) + " -q --set data.corpus_dir=" + shell_quote(d + "/corpus");
  ASSERT_EQ(run_app("moe-train", recipe + " --set train.max_steps=2").exit_code, 0);
  auto r = run_app("moe-train", recipe + " --set train.max_steps=3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // unchanged: nothing to say
  std::ofstream(d + "/corpus/train/de.tsv", std::ios::app) << "neuesen\tnew\n";
  r = run_app("moe-train", recipe + " --set train.max_steps=4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("data: the training corpus changed since the checkpoint (de: 270 pairs"), std::string::npos)
      << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_EQ(losses(d + "/run").size(), 4u);
}

// best_metric = -chrF must not be compared with a dev loss: a resume that
// validates by another metric starts `best` anew, with a note.
TEST(MoeTrain, AChangedEvalMetricRestartsTheBestCheckpoint) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d)) +
                             " -q --set eval.every=2 --set eval.max_sentences=4 --set checkpoint.every=2"
                             " --set train.log_every=2";
  ASSERT_EQ(run_app("moe-train", recipe + " --set eval.metric=chrf --set train.max_steps=4").exit_code, 0);
  EXPECT_EQ(trainer_state(d + "/run/checkpoints/step-00000004")["best_metric_name"], "chrf");
  const auto r = run_app("moe-train", recipe + " --set eval.metric=loss --set train.max_steps=6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("eval.metric: the checkpoint's best is by chrf, this run validates by loss"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_EQ(read_file(d + "/run/checkpoints/best"), "step-00000006\n");  // the first loss validation
  const auto state = trainer_state(d + "/run/checkpoints/step-00000006");
  EXPECT_EQ(state["best_metric_name"], "loss");
  EXPECT_EQ(state["best_step"], 6);
  EXPECT_EQ(state["best_metric"], records(d + "/run", "dev").back()["loss"]);
}

// report.html follows the validations, so a killed run leaves a recent one.
TEST(MoeTrain, TheReportIsWrittenAfterEveryValidation) {
  const std::string dir = temp_dir();
  const std::string recipe = shell_quote(write_recipe(dir));
  const std::string script =
      "cd " + shell_quote(dir) + " || exit 1; (exec " + std::string(MOE_BIN_DIR) + "/moe-train " + recipe +
      " -q --set train.max_steps=1000000 --set eval.every=3 --set eval.metric=loss >out 2>&1) & pid=$!;"
      " for i in $(seq 300); do [ -f run/report.html ] && break; sleep 0.1; done;"
      " { kill -9 $pid; wait $pid; } 2>/dev/null; [ -f run/report.html ]";
  ASSERT_EQ(std::system(("bash -c " + shell_quote(script)).c_str()), 0) << "no report while training";
  const std::string html = read_file(dir + "/run/report.html");
  EXPECT_EQ(html.find("0 validations"), std::string::npos);
  EXPECT_NE(html.find(" validations."), std::string::npos);
}

// The global gradient norm before clipping, per log window (fairseq's gnorm).
TEST(MoeTrain, TheGradientNormIsLoggedBeforeClipping) {
  const std::string d = temp_dir(), clipped = temp_dir();
  ASSERT_EQ(run_app("moe-train", shell_quote(write_recipe(d)) + " -q --set train.max_steps=3").exit_code, 0);
  ASSERT_EQ(run_app("moe-train", shell_quote(write_recipe(clipped)) +
                                     " -q --set train.max_steps=3 --set train.clip_norm=0.001")
                .exit_code,
            0);
  const auto free = records(d + "/run", "train"), clip = records(clipped + "/run", "train");
  ASSERT_EQ(free.size(), 3u);
  ASSERT_EQ(clip.size(), 3u);
  for (const auto& rec : free) EXPECT_GT(rec.at("gnorm").get<double>(), 0.01) << rec.dump();
  EXPECT_EQ(clip[0]["gnorm"], free[0]["gnorm"]);          // the same first step, measured before the clip
  EXPECT_GT(clip[2]["gnorm"].get<double>(), 0.001 * 10);  // not the clipped norm
}

}  // namespace
}  // namespace moe::test

namespace moe::test {
namespace {

// Each rank takes its own sentences of a batch: a batch_tokens without room
// for one of the longest pairs per rank is refused at the start, and a pool's
// short last batch (one sentence, say) is skipped instead of ending the job.
TEST(MoeTrainMesh, BatchesAlwaysHoldASentencePerDataRank) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const std::string dir = temp_dir();
  const std::string cmd = mpirun(2) + std::string(MOE_BIN_DIR) + "/moe-train " + shell_quote(write_recipe(dir)) +
                          " -q --set mesh.data=2 --set train.max_steps=30 --set train.batch_tokens=";
  ASSERT_NE(std::system((cmd + "4 >" + dir + "/out 2>&1").c_str()), 0);
  EXPECT_NE(read_file(dir + "/out").find("error: train.batch_tokens: 4 cannot hold 2 sentences (one per rank) of "
                                         "the corpus's longest pair ("),
            std::string::npos)
      << read_file(dir + "/out");
  EXPECT_FALSE(fs::exists(dir + "/run/metrics.jsonl"));
  // (without the skip, a pool's one-sentence last batch ended this job at step 19)
  ASSERT_EQ(std::system((cmd + "18 >" + dir + "/out 2>&1").c_str()), 0) << read_file(dir + "/out");
  EXPECT_EQ(losses(dir + "/run").size(), 30u);
}

TEST(MoeTrain, ARepeatedFlagTakesItsLastValueAndSetStillAccumulates) {
  const std::string d = temp_dir();
  const std::string recipe = shell_quote(write_recipe(d));
  const auto plan = run_app("moe-train", recipe + " --plan --format table --format json -q -q");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_TRUE(nlohmann::json::parse(plan.out, nullptr, /*allow_exceptions=*/false).is_object()) << plan.out;
  // --set is repeatable: every override applies, not only the last.
  const auto dump = run_app("moe-train", recipe + " --dump-config --set train.seed=77 --set train.max_steps=123");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("seed: 77"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("max_steps: 123"), std::string::npos) << dump.out;
}

}  // namespace
}  // namespace moe::test
