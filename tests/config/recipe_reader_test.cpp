#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/dump.h"
#include "config/reader.h"
#include "config/recipe.h"

namespace moe::config {

// A recipe-shaped struct over the real section types, so the tests exercise
// the same declarations moe-train uses.
struct TestRecipe {
  DataConfig data;
  TrainConfig train;
  OptimizerConfig optimizer;
  MoeConfig moe;
};
template <class V>
void visit(V& v, TestRecipe& r) {
  v.section("data", r.data, "");
  v.section("train", r.train, "");
  v.section("optimizer", r.optimizer, "");
  v.section("moe", r.moe, "");
}

namespace {
namespace fs = std::filesystem;

class RecipeReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moe-config-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  // Reads and returns the error message, or "" if reading succeeded.
  std::string error_of(const std::string& path, const std::vector<std::string>& sets = {}) {
    try {
      Source s;
      s.add_file(path);
      for (const auto& a : sets) s.add_override(a);
      TestRecipe r;
      read_config(s, r);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(RecipeReaderTest, ReadsValuesAndKeepsDefaults) {
  const auto path = write("r.yaml",
                          "train:\n  seed: 7\n  batch_tokens: 1e4\n"
                          "optimizer:\n  name: adam\n  lr: 0.0005\n"
                          "moe:\n  second_expert_policy: all\n"
                          "data:\n  langs: [de, fr]\n  corpus_dir: corpus\n");
  Source s;
  s.add_file(path);
  TestRecipe r;
  read_config(s, r);
  EXPECT_EQ(r.train.seed, 7);
  EXPECT_EQ(r.train.batch_tokens, 10000);
  EXPECT_EQ(r.train.accum_steps, 1);  // default kept
  EXPECT_EQ(r.optimizer.name, OptimizerKind::kAdam);
  EXPECT_DOUBLE_EQ(r.optimizer.lr, 0.0005);
  EXPECT_EQ(r.moe.second_expert_policy, SecondExpertPolicy::kAll);
  EXPECT_EQ(r.data.langs, (std::vector<std::string>{"de", "fr"}));
  // Paths are relative to the recipe file, not to the current directory.
  EXPECT_EQ(r.data.corpus_dir.value, (dir_ / "corpus").string());
}

TEST_F(RecipeReaderTest, UnknownKeyNamesFileLineAndClosestKey) {
  const auto path = write("r.yaml", "train:\n  seed: 1\n  bacth_tokens: 100\n");
  const std::string err = error_of(path);
  EXPECT_NE(err.find(path + ":3:"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown key 'train.bacth_tokens'"), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean 'train.batch_tokens'"), std::string::npos) << err;
}

TEST_F(RecipeReaderTest, UnknownSectionIsAnError) {
  const auto path = write("r.yaml", "trian:\n  seed: 1\n");
  EXPECT_NE(error_of(path).find("unknown key 'trian.seed'"), std::string::npos);
}

TEST_F(RecipeReaderTest, WrongTypeNamesFileLineAndKey) {
  const auto path = write("r.yaml", "optimizer:\n  lr: fast\n");
  const std::string err = error_of(path);
  EXPECT_NE(err.find(path + ":2: key 'optimizer.lr': expected a number, got 'fast'"),
            std::string::npos)
      << err;
  EXPECT_NE(error_of(write("b.yaml", "train:\n  seed: 1.5\n")).find("expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of(write("c.yaml", "moe:\n  second_expert_policy: sometimes\n"))
                .find("'sometimes' is not one of all|random|threshold"),
            std::string::npos);
  EXPECT_NE(error_of(write("d.yaml", "train: 5\n")).find("expected a mapping"), std::string::npos);
  EXPECT_NE(error_of(write("e.yaml", "train:\n  seed: [1, 2]\n")).find("not a list"),
            std::string::npos);
}

TEST_F(RecipeReaderTest, OutOfRangeValueIsAnError) {
  const auto path = write("r.yaml", "moe:\n  top_k: 3\n");
  const std::string err = error_of(path);
  EXPECT_NE(err.find(path + ":2: key 'moe.top_k': 3 is out of range [1, 2]"), std::string::npos)
      << err;
}

TEST_F(RecipeReaderTest, SyntaxErrorNamesTheLine) {
  const auto path = write("r.yaml", "train:\n  seed: 1\n  bad: [1, 2\n");
  const std::string err = error_of(path);
  EXPECT_NE(err.find(path + ":"), std::string::npos) << err;
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
}

TEST_F(RecipeReaderTest, MissingFileIsAnError) {
  EXPECT_NE(error_of((dir_ / "nope.yaml").string()).find("no such recipe file"), std::string::npos);
}

TEST_F(RecipeReaderTest, IncludesApplyFirstAndLaterKeysOverride) {
  write("configs/base.yaml", "train:\n  seed: 3\n  log_every: 10\ndata:\n  corpus_dir: ../corpus\n");
  write("configs/opt.yaml", "optimizer:\n  name: adamw\ntrain:\n  log_every: 20\n");
  const auto path = write("recipes/r.yaml",
                          "include: [../configs/base.yaml, ../configs/opt.yaml]\ntrain:\n  seed: 9\n");
  Source s;
  s.add_file(path);
  TestRecipe r;
  read_config(s, r);
  EXPECT_EQ(r.train.seed, 9);        // the including file wins
  EXPECT_EQ(r.train.log_every, 20);  // the later include wins over the earlier
  EXPECT_EQ(r.optimizer.name, OptimizerKind::kAdamW);
  // relative to configs/base.yaml, where it was written
  EXPECT_EQ(r.data.corpus_dir.value, (dir_ / "corpus").string());
}

TEST_F(RecipeReaderTest, ErrorsInIncludedFilesNameThatFile) {
  const auto inc = write("inc.yaml", "train:\n  sead: 3\n");
  const auto path = write("r.yaml", "include: inc.yaml\n");
  const std::string err = error_of(path);
  EXPECT_NE(err.find(inc + ":2: unknown key 'train.sead'"), std::string::npos) << err;
}

TEST_F(RecipeReaderTest, IncludeCycleIsAnError) {
  write("a.yaml", "include: b.yaml\n");
  const auto b = write("b.yaml", "include: a.yaml\n");
  EXPECT_NE(error_of(b).find("include cycle"), std::string::npos);
  EXPECT_NE(error_of(write("c.yaml", "include: missing.yaml\n")).find("no such file"),
            std::string::npos);
}

TEST_F(RecipeReaderTest, SetOverridesWinAndAreCheckedToo) {
  const auto path = write("r.yaml", "train:\n  seed: 3\n");
  Source s;
  s.add_file(path);
  s.add_override("train.seed=11");
  s.add_override("data.langs=[de, sw]");
  TestRecipe r;
  read_config(s, r);
  EXPECT_EQ(r.train.seed, 11);
  EXPECT_EQ(r.data.langs, (std::vector<std::string>{"de", "sw"}));
  EXPECT_NE(error_of(path, {"train.sed=1"}).find("--set: unknown key 'train.sed'"),
            std::string::npos);
  EXPECT_NE(error_of(path, {"train.seed=x"}).find("--set: key 'train.seed'"), std::string::npos);
  EXPECT_NE(error_of(path, {"noequals"}).find("expected key.path=value"), std::string::npos);
}

TEST_F(RecipeReaderTest, SelfReferencingAliasIsAnErrorNotACrash) {
  const std::string text = "train:\n  seed: 1\nmodel: &m\n  m: *m\n";
  const auto path = write("r.yaml", text);
  EXPECT_NE(error_of(path).find(path + ":4: key 'model.m': a YAML alias refers to a mapping that "
                                       "contains it"),
            std::string::npos)
      << error_of(path);
  // the same text as the recipe stored in a checkpoint, and as a --set value
  try {
    Source s;
    s.add_node(YAML::Load(text), "ckpt (stored recipe)", dir_.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ckpt (stored recipe):4: key 'model.m': a YAML alias"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NE(error_of(write("ok.yaml", ""), {"train=&t {t: *t}"})
                .find("--set: key 'train.t': a YAML alias"),
            std::string::npos);
}

TEST_F(RecipeReaderTest, AliasesThatExpandTooFarAreAnError) {
  // Each level repeats the previous one 12 times: 12^4 keys ("billion laughs").
  std::string text = "l0: &l0 {a: 1, b: 2}\n";
  for (int level = 1; level <= 4; ++level) {
    text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " {";
    for (int i = 0; i < 12; ++i)
      text += (i ? ", k" : "k") + std::to_string(i) + ": *l" + std::to_string(level - 1);
    text += "}\n";
  }
  const auto wide = write("wide.yaml", text);
  EXPECT_NE(error_of(wide).find(wide + ":5: key 'l4' expands the recipe to more than 10000 keys"),
            std::string::npos)
      << error_of(wide);
  // A chain of aliases nests deeper than the parser's own limit would allow.
  std::string chain = "c0: &c0 {x: 1}\n";
  for (int i = 1; i <= 20; ++i)
    chain += "c" + std::to_string(i) + ": &c" + std::to_string(i) + " {n: *c" +
             std::to_string(i - 1) + "}\n";
  const auto deep = write("deep.yaml", chain);
  EXPECT_NE(error_of(deep).find(deep + ":16: key 'c15.n.n."), std::string::npos) << error_of(deep);
  EXPECT_NE(error_of(deep).find("mappings nested more than 16 deep"), std::string::npos);
}

TEST_F(RecipeReaderTest, DeeplyNestedYamlIsASyntaxError) {
  const auto path =
      write("r.yaml", "train: " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  EXPECT_NE(error_of(path).find(path + ":1: YAML syntax error: nested too deeply"),
            std::string::npos)
      << error_of(path);
}

TEST_F(RecipeReaderTest, KeyTwiceInOneFileIsAnError) {
  const auto path = write("r.yaml", "train:\n  seed: 1\n  log_every: 5\n  seed: 2\n");
  EXPECT_NE(error_of(path).find(path + ":4: key 'train.seed' appears twice (first at line 2)"),
            std::string::npos)
      << error_of(path);
  // a whole section written twice would merge silently
  const auto section =
      write("s.yaml", "train:\n  seed: 1\noptimizer:\n  lr: 1\ntrain:\n  log_every: 2\n");
  EXPECT_NE(error_of(section).find(section + ":5: key 'train' appears twice (first at line 1)"),
            std::string::npos)
      << error_of(section);
  const auto flow = write("f.yaml", "train: {seed: 1, seed: 2}\n");
  EXPECT_NE(error_of(flow).find("key 'train.seed' appears twice"), std::string::npos);
  const auto dotted = write("d.yaml", "train.seed: 1\ntrain:\n  seed: 2\n");
  EXPECT_NE(error_of(dotted).find(dotted + ":3: key 'train.seed' is set twice (first at line 1)"),
            std::string::npos)
      << error_of(dotted);
  write("inc.yaml", "train:\n  seed: 1\n");
  const auto includes =
      write("i.yaml", "include: inc.yaml\ntrain:\n  seed: 2\ninclude: inc.yaml\n");
  EXPECT_NE(error_of(includes).find(includes + ":4: key 'include' appears twice"),
            std::string::npos)
      << error_of(includes);
  EXPECT_NE(error_of(write("ok.yaml", ""), {"train={seed: 1, seed: 2}"})
                .find("--set: key 'train.seed' appears twice"),
            std::string::npos);
}

TEST_F(RecipeReaderTest, OverridingAcrossFilesAndSetsIsNotADuplicate) {
  write("inc.yaml", "train:\n  seed: 1\n  log_every: 7\n");
  const auto path = write("r.yaml", "include: inc.yaml\ntrain:\n  seed: 2\n");
  Source s;
  s.add_file(path);
  s.add_override("train.seed=3");
  s.add_override("train.seed=4");
  s.add_override("train={log_every: 9}");  // a map merges into the section
  TestRecipe r;
  read_config(s, r);
  EXPECT_EQ(r.train.seed, 4);  // not named by the --set map: keeps its value
  EXPECT_EQ(r.train.log_every, 9);
  EXPECT_EQ(error_of(path, {"train.seed=3", "train.seed=4"}), "");
}

// --set KEY={...} is what a later include holding KEY would be: a mapping
// merges key by key (the unnamed keys keep their values, not the defaults).
TEST_F(RecipeReaderTest, SetWithAMappingMergesLikeALaterInclude) {
  write("base.yaml", "moe:\n  num_experts: 4\n  group_size: 64\n  top_k: 2\n");
  write("top1.yaml", "moe:\n  top_k: 1\n");
  const auto by_set = write("r.yaml", "include: base.yaml\n");
  const auto by_include = write("r2.yaml", "include: [base.yaml, top1.yaml]\n");
  Source set_source;
  set_source.add_file(by_set);
  set_source.add_override("moe={top_k: 1}");
  Source include_source;
  include_source.add_file(by_include);
  TestRecipe r;
  read_config(set_source, r);
  EXPECT_EQ(r.moe.top_k, 1);
  EXPECT_EQ(r.moe.num_experts, 4);  // not 8, the default
  EXPECT_EQ(r.moe.group_size, 64);  // not 1024, the default
  TestRecipe from_include;
  read_config(include_source, from_include);
  EXPECT_EQ(dump_config(r), dump_config(from_include));

  // Nested mappings merge at every level; a key's dotted path and its nesting agree.
  Source nested;
  nested.add_file(by_set);
  nested.add_override("moe.top_k=1");
  nested.add_override("moe={capacity_factor: 1.5}");
  TestRecipe n;
  read_config(nested, n);
  EXPECT_EQ(n.moe.top_k, 1);
  EXPECT_EQ(n.moe.capacity_factor, 1.5);
  EXPECT_EQ(n.moe.num_experts, 4);
  // Errors in a merged mapping still name --set and the full key.
  EXPECT_NE(error_of(by_set, {"moe={top_kk: 1}"}).find("--set: unknown key 'moe.top_kk'"),
            std::string::npos);
  EXPECT_NE(error_of(by_set, {".moe=1"}).find("expected key.path=value"), std::string::npos);
}

TEST_F(RecipeReaderTest, SetWithAListOrScalarReplaces) {
  const auto path = write("r.yaml", "data:\n  langs: [de, sw]\nmoe:\n  num_experts: 4\n");
  Source s;
  s.add_file(path);
  s.add_override("data.langs=[xh]");
  TestRecipe r;
  read_config(s, r);
  EXPECT_EQ(r.data.langs, (std::vector<std::string>{"xh"}));  // not merged into [de, sw, xh]
  // A scalar over a section replaces the section, and is then an error.
  EXPECT_NE(error_of(path, {"moe=5"}).find("--set: key 'moe': expected a mapping"),
            std::string::npos);
}

// null ("key:" with no value, --set key=null) puts a key, or a whole section,
// back to its default.
TEST_F(RecipeReaderTest, NullResetsAKeyOrASectionToItsDefault) {
  const auto path = write(
      "r.yaml", "data:\n  langs: [de]\nmoe:\n  num_experts: 4\n  group_size: 64\n  top_k: 1\n");
  Source s;
  s.add_file(path);
  s.add_override("moe.top_k=null");
  s.add_override("data.langs=null");
  s.add_override("moe={group_size: null}");
  TestRecipe r;
  read_config(s, r);
  const MoeConfig defaults;
  EXPECT_EQ(r.moe.top_k, defaults.top_k);
  EXPECT_EQ(r.moe.group_size, defaults.group_size);
  EXPECT_EQ(r.moe.num_experts, 4);
  EXPECT_TRUE(r.data.langs.empty());

  Source section;
  section.add_file(path);
  section.add_override("moe=null");
  TestRecipe all_defaults;
  read_config(section, all_defaults);
  EXPECT_EQ(all_defaults.moe.num_experts, defaults.num_experts);
  EXPECT_EQ(all_defaults.moe.top_k, defaults.top_k);

  // In a file too, and a null for a key no struct declares is still unknown.
  EXPECT_EQ(error_of(write("empty.yaml", "train:\n  seed:\n")), "");
  EXPECT_NE(error_of(path, {"moe.top_kk=null"}).find("--set: unknown key 'moe.top_kk'"),
            std::string::npos);
}

TEST_F(RecipeReaderTest, DumpRoundTrips) {
  TestRecipe r;
  r.train.seed = 42;
  r.optimizer.lr = 0.1 + 0.2;  // not exactly representable in short decimal
  r.data.langs = {"zh-Hans", "pt-BR"};
  r.moe.second_expert_policy = SecondExpertPolicy::kThreshold;
  const std::string text = dump_config(r);
  const auto path = write("dumped.yaml", text);
  Source s;
  s.add_file(path);
  TestRecipe back;
  read_config(s, back);
  EXPECT_EQ(back.train.seed, 42);
  EXPECT_EQ(back.optimizer.lr, r.optimizer.lr);  // bit-exact
  EXPECT_EQ(back.data.langs, r.data.langs);
  EXPECT_EQ(back.moe.second_expert_policy, SecondExpertPolicy::kThreshold);
  EXPECT_EQ(dump_config(back), text);
}

TEST_F(RecipeReaderTest, KeyListerCoversEveryField) {
  TestRecipe r;
  KeyLister lister;
  visit(lister, r);
  bool found = false;
  for (const auto& row : lister.rows) found |= row.key == "moe.capacity_factor" && row.type == "float";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace moe::config

namespace moe::config {
namespace {

TEST_F(RecipeReaderTest, FullRecipeValidatesAcrossSections) {
  const auto path = write("r.yaml", "model:\n  d_model: 30\n  heads: 4\n");
  try {
    load_recipe(path);
    FAIL();
  } catch (const InputError& e) {
    // the rule lives in ModelConfig::validate; the error still points at the line
    EXPECT_NE(std::string(e.what()).find(path + ":2: key 'model.d_kv'"), std::string::npos)
        << e.what();
  }
  const auto mesh = write("m.yaml", "model:\n  moe:\n    num_experts: 6\nmesh:\n  expert: 4\n");
  try {
    load_recipe(mesh);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(mesh + ":5: key 'mesh.expert': the expert axis has 4 ranks"),
              std::string::npos)
        << e.what();
  }
}

std::string load_error(const std::string& path, const std::vector<std::string>& sets = {}) {
  try {
    load_recipe(path, sets);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_F(RecipeReaderTest, RuleOnADefaultKeyPointsAtTheKeyItWasCheckedAgainst) {
  // Neither model.d_kv nor model.moe.top_k is in the file; blame the line that is.
  const auto d17 =
      write("d.yaml", "model:\n  heads: 2\n  ffn_dim: 32\n  vocab: 64\n  d_model: 17\n");
  EXPECT_NE(
      load_error(d17).find(d17 + ":5: key 'model.d_kv' (default) conflicts with 'model.d_model': "
                                 "is 0 but d_model 17 is not divisible by heads 2"),
      std::string::npos)
      << load_error(d17);
  const auto one = write(
      "e.yaml", "model:\n  d_model: 16\n  heads: 2\n  vocab: 64\n  moe:\n    num_experts: 1\n");
  EXPECT_NE(load_error(one).find(one + ":6: key 'model.moe.top_k' (default) conflicts with "
                                       "'model.moe.num_experts'"),
            std::string::npos)
      << load_error(one);
  // written in the file: its own line
  const auto top2 = write("t.yaml", "model:\n  moe:\n    top_k: 2\n    num_experts: 1\n");
  EXPECT_NE(load_error(top2).find(top2 + ":3: key 'model.moe.top_k': "), std::string::npos)
      << load_error(top2);
  // set on the command line: no line of the file
  const auto plain = write("p.yaml", "model:\n  vocab: 64\n");
  EXPECT_NE(
      load_error(plain, {"model.moe.num_experts=1"})
          .find("--set: key 'model.moe.top_k' (default) conflicts with 'model.moe.num_experts'"),
      std::string::npos)
      << load_error(plain, {"model.moe.num_experts=1"});
}

TEST_F(RecipeReaderTest, MoeAndVocabRulesNameFileLineAndFullKey) {
  const auto cf = write("c.yaml", "model:\n  moe:\n    num_experts: 4\n    capacity_factor: 0\n");
  EXPECT_NE(load_error(cf).find(cf + ":4: key 'model.moe.capacity_factor': must be > 0"),
            std::string::npos)
      << load_error(cf);
  const auto ecf =
      write("e.yaml", "model:\n  moe:\n    num_experts: 4\n    eval_capacity_factor: 0\n");
  EXPECT_NE(load_error(ecf).find(ecf + ":4: key 'model.moe.eval_capacity_factor': must be > 0"),
            std::string::npos)
      << load_error(ecf);
  // a dense model does not use its MoE settings
  EXPECT_EQ(
      load_error(write("d.yaml", "model:\n  moe:\n    num_experts: 0\n    capacity_factor: 0\n")),
      "");
  const auto type = write("v.yaml", "vocab:\n  model_type: word\n");
  EXPECT_NE(load_error(type).find(
                type + ":2: key 'vocab.model_type': expected unigram or bpe, got 'word'"),
            std::string::npos)
      << load_error(type);
}

// Values the ranges admitted and the code could not use: an epsilon of 0
// divides 0 by 0 on the first update, a dev beam wider than the vocabulary
// failed only at the first validation, after the steps before it, and a
// moe_offset past the last layer gave a dense model with experts configured.
TEST_F(RecipeReaderTest, UnusableEpsilonsBeamsAndMoeLayoutsAreRefusedAtLoad) {
  const auto plain = write("p.yaml", "model:\n  vocab: 64\n");
  for (const char* key : {"optimizer.eps", "optimizer.eps1", "optimizer.eps2"})
    EXPECT_EQ(load_error(plain, {std::string(key) + "=0"}),
              std::string("--set: key '") + key + "': 0 is out of range (0, 1]");
  EXPECT_EQ(load_error(plain, {"optimizer.eps=1e-30"}), "");
  EXPECT_EQ(load_error(plain, {"optimizer.clip_threshold=0"}), "");  // 0 = off
  EXPECT_EQ(load_error(plain, {"eval.beam_size=65"}),
            "--set: key 'eval.beam_size': must be at most model.vocab (64), got 65");
  EXPECT_EQ(load_error(plain, {"eval.beam_size=64"}), "");
  // Experts with no layer to live in.
  EXPECT_EQ(load_error(plain, {"model.moe.num_experts=4", "model.enc_layers=1", "model.dec_layers=1",
                               "model.moe_every=4", "model.moe_offset=2"}),
            "--set: key 'model.moe_offset': 2 leaves no MoE layer in 1 layers (moe.num_experts: 0 for a dense model)");
  EXPECT_EQ(load_error(plain, {"model.moe.num_experts=0", "model.enc_layers=1", "model.dec_layers=1",
                               "model.moe_every=4", "model.moe_offset=2"}),
            "");
}

TEST_F(RecipeReaderTest, ALanguageListedTwiceIsAnError) {
  const auto path = write("l.yaml", "model:\n  vocab: 64\ndata:\n  langs: [de, fr, de]\n");
  EXPECT_EQ(load_error(path), path + ":4: key 'data.langs': 'de' is listed twice");
  const auto plain = write("p.yaml", "model:\n  vocab: 64\n");
  EXPECT_EQ(load_error(plain, {"data.langs=[de,de]"}), "--set: key 'data.langs': 'de' is listed twice");
  EXPECT_EQ(load_error(plain, {"data.langs=[de,fr]"}), "");
}

TEST_F(RecipeReaderTest, ANulByteControlCharacterOrInvalidUtf8NamesItsLine) {
  // yaml-cpp alone reported the NUL on line 3, with the raw byte in a two-line message.
  const auto nul = write("n.yaml", std::string("model:\n  d_model: 16\0\n", 22));
  EXPECT_EQ(error_of(nul), nul + ":2: a NUL byte: a recipe is text");
  const auto control = write("c.yaml", "train:\n  seed: 1\n  batch_tokens: \"4\x01\"\n");
  EXPECT_EQ(error_of(control), control + ":3: control character \\x01: a recipe is text");
  const auto latin1 = write("u.yaml", "# caf\xe9\ntrain:\n  seed: 1\n");
  EXPECT_EQ(error_of(latin1), latin1 + ":1: invalid UTF-8: a recipe is UTF-8 text");
  // Tabs, CRLF line ends and UTF-8 text are fine.
  EXPECT_EQ(error_of(write("ok.yaml", "# caf\xc3\xa9\t\r\ntrain:\r\n  seed: 1\r\n")), "");
}

TEST_F(RecipeReaderTest, ASecondYamlDocumentIsAnError) {
  const auto two = write("two.yaml", "train:\n  seed: 1\n\n---\ntrain:\n  seed: 2\n");
  EXPECT_EQ(error_of(two), two + ":4: a second YAML document starts here: a recipe is one document");
  const auto trailing = write("t.yaml", "---\ntrain:\n  seed: 1\n---\n");
  EXPECT_EQ(error_of(trailing),
            trailing + ":4: a second YAML document starts here: a recipe is one document");
  // One document, with its optional start and end markers, reads as before.
  EXPECT_EQ(error_of(write("one.yaml", "---\ntrain:\n  seed: 1\n...\n")), "");
}

TEST_F(RecipeReaderTest, KeyTableKeepsColumnsApart) {
  Recipe defaults;
  KeyLister lister;
  visit(lister, defaults);
  const std::string table = lister.table();
  EXPECT_NE(
      table.find("rsqrt_plateau|inverse_sqrt|constant  rsqrt_plateau  learning-rate schedule\n"),
      std::string::npos)
      << table;
  // every row's type starts in the same column
  std::istringstream lines(table);
  std::string line;
  std::size_t type_column = std::string::npos, rows = 0;
  while (std::getline(lines, line)) {
    const auto& row = lister.rows.at(rows++);
    const std::size_t at = line.find(row.type, row.key.size());
    if (type_column == std::string::npos) type_column = at;
    EXPECT_EQ(at, type_column) << line;
    EXPECT_GE(at, row.key.size() + 2) << line;
  }
  EXPECT_EQ(rows, lister.rows.size());
}

TEST_F(RecipeReaderTest, FullRecipeDumpRoundTrips) {
  const auto path = write("r.yaml", "model:\n  d_model: 256\n  norm: rms_norm\n  moe:\n    num_experts: 8\n");
  const Recipe r = load_recipe(path, {"train.seed=5"});
  EXPECT_EQ(r.model.d_model, 256);
  EXPECT_EQ(r.model.norm, NormType::kRmsNorm);
  EXPECT_EQ(r.train.seed, 5);
  const std::string yaml = recipe_to_yaml(r);
  const Recipe back = load_recipe(write("dump.yaml", yaml));
  EXPECT_EQ(recipe_to_yaml(back), yaml);
}

// --dump-config and RUN/recipe.yaml are recipe_to_yaml() of the loaded recipe:
// a merging --set shows there with the keys it left alone.
TEST_F(RecipeReaderTest, DumpShowsTheMergedSetMapping) {
  const auto path = write("r.yaml", "model:\n  moe:\n    num_experts: 4\n    group_size: 64\n");
  const std::string yaml = recipe_to_yaml(load_recipe(path, {"model.moe={top_k: 1}"}));
  EXPECT_NE(yaml.find("\n    num_experts: 4 "), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("\n    top_k: 1 "), std::string::npos);
  EXPECT_NE(yaml.find("\n    group_size: 64 "), std::string::npos);
  const Recipe back = load_recipe(write("dump.yaml", yaml));
  EXPECT_EQ(back.model.moe.num_experts, 4);
  EXPECT_EQ(back.model.moe.top_k, 1);
}

}  // namespace
}  // namespace moe::config
