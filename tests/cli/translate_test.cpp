// End-to-end tests of moe-translate: flag and input errors, then a tiny
// model trained here by the real moe-train translating files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run_command.h"

namespace moe::test {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// A failed run: exit code 1 and exactly one line on stderr containing `what`.
void expect_one_line_error(const CommandResult& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  EXPECT_EQ(r.err.rfind("moe-translate: error: ", 0), 0u) << r.err;
}

TEST(MoeTranslateErrors, MissingModelIsOneLineExitOne) {
  const std::string dir = temp_dir();
  expect_one_line_error(run_app("moe-translate", "-m " + shell_quote(dir + "/no-run"), "hello\n"), dir + "/no-run");
  // A directory that is neither a run nor a checkpoint.
  expect_one_line_error(run_app("moe-translate", "-m " + shell_quote(dir), "hello\n"), dir);
  expect_one_line_error(run_app("moe-translate", "", "hello\n"), "--model");
}

TEST(MoeTranslateErrors, BadFlagValuesNameTheFlag) {
  const std::string m = "-m " + shell_quote(temp_dir() + "/no-run") + " ";
  expect_one_line_error(run_app("moe-translate", m + "--beam-size 0"), "--beam-size");
  expect_one_line_error(run_app("moe-translate", m + "--beam-size 2 --n-best 3"), "--n-best");
  expect_one_line_error(run_app("moe-translate", m + "--alpha -1"), "--alpha");
  expect_one_line_error(run_app("moe-translate", m + "--mini-batch 0"), "--mini-batch");
  expect_one_line_error(run_app("moe-translate", m + "--sampling topk"), "--sampling");
  expect_one_line_error(run_app("moe-translate", m + "--sampling temperature:0"), "--sampling");
  expect_one_line_error(run_app("moe-translate", m + "--output-format xml"), "--output-format");
  expect_one_line_error(run_app("moe-translate", m + "--moe-capacity-factor -2"), "--moe-capacity-factor");
  expect_one_line_error(run_app("moe-translate", m + "--max-input-length 1"), "--max-input-length");
  expect_one_line_error(run_app("moe-translate", m + "--beam-size four"), "--beam-size");
  expect_one_line_error(run_app("moe-translate", m + "--no-such-flag"), "--no-such-flag");
  expect_one_line_error(run_app("moe-translate", m + "--threads 100000"), "--threads");
  // Not finite is its own error, not "must be >= 0, got inf".
  expect_one_line_error(run_app("moe-translate", m + "--alpha inf"), "--alpha: must be a finite number, got inf");
  expect_one_line_error(run_app("moe-translate", m + "--max-length-a nan"), "--max-length-a: must be a finite number");
  expect_one_line_error(run_app("moe-translate", m + "--moe-capacity-factor inf"),
                        "--moe-capacity-factor: must be a finite number");
  expect_one_line_error(run_app("moe-translate", m + "--sampling temperature:inf"),
                        "temperature must be a finite number");
  // No output could ever be that long.
  expect_one_line_error(run_app("moe-translate", m + "--max-length-a 0 --max-length-b 5 --min-length 6"),
                        "--min-length");
}

TEST(MoeTranslateErrors, MissingInputFileIsNamed) {
  const std::string dir = temp_dir();
  expect_one_line_error(run_app("moe-translate", "-m " + shell_quote(dir) + " -i " + shell_quote(dir + "/in.txt")),
                        dir + "/in.txt");
}

TEST(MoeTranslateErrors, DirectoriesAreNoInputOrOutput) {
  const std::string dir = temp_dir();
  const std::string m = "-m " + shell_quote(dir + "/no-run");
  expect_one_line_error(run_app("moe-translate", m + " -i " + shell_quote(dir)), dir + ": cannot open input: is a directory");
  expect_one_line_error(run_app("moe-translate", m + " -o " + shell_quote(dir), "x\n"),
                        dir + ": cannot open output for writing: is a directory");
  const std::string cmd = shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " + m + " < " +
                          shell_quote(dir) + " 2> " + shell_quote(dir + "/err");
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);
  EXPECT_EQ(read_file(dir + "/err"), "moe-translate: error: <stdin>: cannot open input: is a directory\n");
}

TEST(MoeTranslateErrors, EmptyFileNamesAndAClosedStdin) {
  const std::string dir = temp_dir();
  const std::string m = "-m " + shell_quote(dir + "/no-run");
  expect_one_line_error(run_app("moe-translate", m + " -o ''", "x\n"), "--output: empty file name");
  expect_one_line_error(run_app("moe-translate", m + " -i ''"), "--input: empty file name");
  // A closed stdin is not an empty input: no output and exit 0 would hide it.
  const CommandResult closed = run_app_redirected("moe-translate", m + " 0<&-");
  EXPECT_EQ(closed.exit_code, 1);
  EXPECT_EQ(closed.err, "moe-translate: error: <stdin>: read error: Bad file descriptor\n");
}

TEST(MoeTranslateErrors, HelpThatCannotBeWrittenIsAnError) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const CommandResult r = run_app_redirected("moe-translate", "--help > /dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "moe-translate: error: <stdout>: write failed\n");
}

// A failure before the end leaves an existing output file as it was (no
// truncated file, no temporary file left beside it).
TEST(MoeTranslateErrors, FailuresLeaveTheOutputFileUntouched) {
  const std::string dir = temp_dir();
  const std::string precious = write_file(dir, "precious.txt", "keep me\n");
  const std::string o = " -o " + shell_quote(precious);
  expect_one_line_error(run_app("moe-translate", "-m /nonexistent" + o, "hello\n"), "/nonexistent");
  expect_one_line_error(run_app("moe-translate", "-m /nonexistent --beam-size 0" + o, "hello\n"), "--beam-size");
  EXPECT_EQ(read_file(precious), "keep me\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
}

// A toy two-language corpus (German-like words reversed + "en"), its
// SentencePiece model, and a tiny MoE model trained on it by moe-train; made
// once per test binary.
struct TinyRun {
  std::string dir, run;
  std::vector<std::pair<std::string, std::string>> pairs;  // training pairs (de)
};

const TinyRun& tiny_run() {
  static const TinyRun r = [] {
    TinyRun t;
    t.dir = temp_dir();
    const std::vector<std::string> words = {"house", "green", "tree", "small", "river", "open",
                                            "file",  "save",  "print", "window", "close", "new"};
    std::mt19937 rng(7);
    for (const char* split : {"train", "dev", "test"}) fs::create_directories(t.dir + "/" + split);
    for (const std::string lang : {"de", "fr"}) {
      std::ofstream train(t.dir + "/train/" + lang + ".tsv"), dev(t.dir + "/dev/" + lang + ".tsv");
      for (int i = 0; i < 300; ++i) {
        std::string src, en;
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k) {
          const std::string& w = words[rng() % words.size()];
          en += (k ? " " : "") + w;
          src += (k ? " " : "") + (lang == "de" ? std::string(w.rbegin(), w.rend()) + "en" : "le" + w.substr(0, 3));
        }
        (i < 270 ? train : dev) << src << "\t" << en << "\n";
        if (lang == "de" && i < 270) t.pairs.emplace_back(src, en);
      }
    }
    // Identity normalisation, as scripts/main.sh trains the project's
    // vocabulary: SentencePiece then leaves tabs, NBSP or NFD as they are, and
    // only moe-translate's own cleaning keeps them from the model.
    auto res = run_app("moe-tokenize", "-q train --corpus " + shell_quote(t.dir) + " -o " +
                                           shell_quote(t.dir + "/spm") +
                                           " --vocab-size 48 --sentences 2000 --normalization identity");
    if (res.exit_code != 0) throw std::runtime_error("moe-tokenize train failed: " + res.err);
    const std::string recipe = write_file(
        t.dir, "recipe.yaml",
        "data:\n  corpus_dir: " + t.dir + "\n  target_lang_tag: true\nvocab:\n  model: " + t.dir +
            "/spm.model\n"
            "model:\n  vocab: 48\n  d_model: 32\n  ffn_dim: 64\n  heads: 2\n  enc_layers: 2\n"
            "  dec_layers: 2\n  dropout: 0.0\n  max_positions: 64\n  moe:\n    num_experts: 4\n    group_size: 32\n"
            "train:\n  batch_tokens: 256\n  log_every: 100\n  seed: 3\n  max_steps: 1200\n  threads: 1\n"
            "optimizer:\n  name: adam\n  lr: 0.003\n  beta1: 0.9\n"
            "schedule:\n  name: inverse_sqrt\n  warmup_steps: 10\n"
            "checkpoint:\n  dir: " + t.dir + "/run\n  every: 1000\neval:\n  every: 0\n");
    res = run_app("moe-train", shell_quote(recipe) + " -q");
    if (res.exit_code != 0) throw std::runtime_error("moe-train failed: " + res.err);
    t.run = t.dir + "/run";
    return t;
  }();
  return r;
}

std::string translate_args(const std::string& extra) {
  return "-m " + shell_quote(tiny_run().run) + " --threads 1 -q " + extra;
}

TEST(MoeTranslate, TranslatesTrainingSentencesInInputOrder) {
  const TinyRun& t = tiny_run();
  std::string input;
  for (std::size_t i = 0; i < 40; ++i) input += t.pairs[i].first + "\n";
  // Mini-batches of 3 sorted by length: output must still follow the input.
  const auto r = run_app("moe-translate", translate_args("--mini-batch 3"), input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 40u);
  int exact = 0;
  for (std::size_t i = 0; i < 40; ++i) exact += out[i] == t.pairs[i].second;
  EXPECT_GE(exact, 36) << r.out;  // a one-second toy model: nearly all
  // Each line alone gives the same line.
  for (std::size_t i : {0u, 17u, 39u}) {
    const auto one = run_app("moe-translate", translate_args(""), t.pairs[i].first + "\n");
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, out[i] + "\n");
  }
}

TEST(MoeTranslate, ThreadCountDoesNotChangeTheOutput) {
  const TinyRun& t = tiny_run();
  std::string input;
  for (std::size_t i = 0; i < 30; ++i) input += t.pairs[i].first + "\n";
  const std::string args = "-m " + shell_quote(t.run) + " -q --n-best 2 --output-format json --threads ";
  const auto one = run_app("moe-translate", args + "1", input);
  const auto two = run_app("moe-translate", args + "2", input);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, two.out);
}

TEST(MoeTranslate, EmptyLinesGiveEmptyLinesAndFilesWork) {
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  const std::string in = write_file(dir, "in.txt", t.pairs[0].first + "\n\n   \n" + t.pairs[1].first + "\n");
  const auto r = run_app("moe-translate", translate_args("-i " + shell_quote(in) + " -o " + shell_quote(dir + "/out.txt")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(read_file(dir + "/out.txt"));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FALSE(out[0].empty());
  EXPECT_EQ(out[1], "");
  EXPECT_EQ(out[2], "");
  EXPECT_FALSE(out[3].empty());
}

// Whitespace other than ASCII spaces is still whitespace: no model run, one
// n-best entry like an empty line (the identity vocabulary would otherwise
// read a tab as "▁ <unk>" and translate it).
TEST(MoeTranslate, BlankLinesOfAnyWhitespaceGiveEmptyLines) {
  const std::string input = std::string("\t\n\u00a0\n\u3000\n\v\n \t \u2003\n\ufeff\n") + tiny_run().pairs[0].first + "\n";
  const auto text = run_app("moe-translate", translate_args(""), input);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const auto out = lines_of(text.out);
  ASSERT_EQ(out.size(), 7u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(out[i], "") << i;
  EXPECT_NE(out[6], "");
  const auto n_best = run_app("moe-translate", translate_args("--beam-size 2 --n-best 2"), input);
  ASSERT_EQ(n_best.exit_code, 0) << n_best.err;
  const auto entries = lines_of(n_best.out);
  ASSERT_EQ(entries.size(), 8u) << n_best.out;  // one entry per blank line, two for the sentence
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(entries[i], std::to_string(i) + " |||  ||| F0= 0.000000 ||| 0.000000");
}

// The model reads a line cleaned as the corpus's sources were (NFC, no BOM,
// ZWSP or soft hyphen, tab and NBSP as spaces, single spaces); "source" in
// JSON is the line as given.
TEST(MoeTranslate, InputIsCleanedAsTheTrainingSourcesWere) {
  const TinyRun& t = tiny_run();
  const std::string plain = t.pairs[3].first + " caf\u00e9";
  std::string spaced = plain;
  for (char& c : spaced)
    if (c == ' ') c = '\t';
  const std::vector<std::string> variants = {
      "\ufeff" + plain, "  " + spaced + " ", t.pairs[3].first + "\u00a0 cafe\u0301",
      "\u200b" + t.pairs[3].first.substr(0, 2) + "\u00ad" + t.pairs[3].first.substr(2) + "\u202fcaf\u00e9"};
  std::string input = plain + "\n";
  for (const std::string& v : variants) input += v + "\n";
  const auto r = run_app("moe-translate", translate_args("--output-format json --report-routing"), input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1 + variants.size());
  const auto reference = nlohmann::json::parse(out[0]);
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto j = nlohmann::json::parse(out[i + 1]);
    EXPECT_EQ(j["source"], variants[i]);
    EXPECT_EQ(j["source_tokens"], reference["source_tokens"]) << variants[i];
    EXPECT_EQ(j["tokens"], reference["tokens"]) << variants[i];
  }
}

TEST(MoeTranslate, TsvInputTranslatesTheSecondColumn) {
  const TinyRun& t = tiny_run();
  const std::string input = "de\t" + t.pairs[0].first + "\t" + t.pairs[0].second + "\nde\t" + t.pairs[1].first + "\n";
  const auto tsv = run_app("moe-translate", translate_args("--tsv"), input);
  ASSERT_EQ(tsv.exit_code, 0) << tsv.err;
  const auto plain = run_app("moe-translate", translate_args(""), t.pairs[0].first + "\n" + t.pairs[1].first + "\n");
  EXPECT_EQ(tsv.out, plain.out);
  expect_one_line_error(run_app("moe-translate", translate_args("--tsv"), "de\tok\nno tab here\n"), "<stdin>:2:");
  // The reference column is not read, so its bytes are not checked; blank
  // lines (spaces only too) are blank sources, as without --tsv.
  const auto extra = run_app("moe-translate", translate_args("--tsv"),
                             "de\t" + t.pairs[0].first + "\t\xff\xfe\n   \n\nde\t" + t.pairs[1].first + "\n");
  ASSERT_EQ(extra.exit_code, 0) << extra.err;
  const auto blanks = run_app("moe-translate", translate_args(""),
                              t.pairs[0].first + "\n   \n\n" + t.pairs[1].first + "\n");
  EXPECT_EQ(extra.out, blanks.out);
  expect_one_line_error(run_app("moe-translate", translate_args("--tsv"), "de\tok\nde\t\xff\n"), "<stdin>:2: invalid UTF-8");
}

TEST(MoeTranslate, NBestTextIsMarianFormat) {
  const TinyRun& t = tiny_run();
  const auto r = run_app("moe-translate", translate_args("--beam-size 3 --n-best 3"),
                         t.pairs[0].first + "\n" + t.pairs[1].first + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 6u);
  const std::regex marian(R"(^(\d+) \|\|\| (.*) \|\|\| F0= (-?\d+\.\d+) \|\|\| (-?\d+\.\d+)$)");
  double previous = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(out[i], m, marian)) << out[i];
    EXPECT_EQ(std::stoul(m[1]), i / 3);
    const double score = std::stod(m[4]);
    if (i % 3 != 0) {
      EXPECT_LE(score, previous) << "n-best not ordered";
    }
    previous = score;
  }
}

TEST(MoeTranslate, JsonLinesCarryScoresAndTokens) {
  const TinyRun& t = tiny_run();
  const auto r = run_app("moe-translate", translate_args("--output-format json --n-best 2"),
                         t.pairs[0].first + "\n\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 2u);
  const auto j = nlohmann::json::parse(out[0]);
  EXPECT_EQ(j["line"], 1);
  EXPECT_EQ(j["source"], t.pairs[0].first);
  EXPECT_TRUE(j["hypothesis"].is_string());
  EXPECT_LT(j["score"].get<double>(), 0.0);
  EXPECT_FALSE(j["tokens"].empty());
  ASSERT_EQ(j["n_best"].size(), 2u);
  EXPECT_EQ(j["n_best"][0]["hypothesis"], j["hypothesis"]);
  const auto empty = nlohmann::json::parse(out[1]);
  EXPECT_EQ(empty["hypothesis"], "");
  EXPECT_TRUE(empty["tokens"].empty());
}

TEST(MoeTranslate, InvalidUtf8NamesTheLine) {
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  const std::string in = write_file(dir, "bad.txt", t.pairs[0].first + "\nfine\nbad \xC3\x28 byte\n");
  expect_one_line_error(run_app("moe-translate", translate_args("-i " + shell_quote(in))), in + ":3: invalid UTF-8");
}

TEST(MoeTranslate, LongInputIsCutWithAWarning) {
  const TinyRun& t = tiny_run();
  std::string longer;
  for (int i = 0; i < 10; ++i) longer += t.pairs[static_cast<std::size_t>(i)].first + " ";
  const auto r = run_app("moe-translate", translate_args("--max-input-length 6"), longer + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 1u);
  EXPECT_NE(r.err.find("<stdin>:1: source cut to 6 tokens (--max-input-length)\n"), std::string::npos) << r.err;
  // Under the default 256 the model's max_positions (64) is the limit, and the warning says so.
  std::string longest;
  for (int i = 0; i < 40; ++i) longest += t.pairs[static_cast<std::size_t>(i)].first + " ";
  const auto capped = run_app("moe-translate", translate_args(""), longest + "\n");
  ASSERT_EQ(capped.exit_code, 0) << capped.err;
  EXPECT_NE(capped.err.find("<stdin>:1: source cut to 64 tokens (the model's max_positions)\n"), std::string::npos)
      << capped.err;
}

TEST(MoeTranslate, ManyCutInputsAreNamedFirstThenCounted) {
  const TinyRun& t = tiny_run();
  std::string longer;
  for (int i = 0; i < 10; ++i) longer += t.pairs[static_cast<std::size_t>(i)].first + " ";
  std::string input;
  for (int i = 0; i < 8; ++i) input += longer + "\n";
  const auto r = run_app("moe-translate", translate_args("--max-input-length 6"), input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 8u);
  EXPECT_NE(r.err.find("<stdin>:5: source cut"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("<stdin>:6: source cut"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("8 of 8 sources cut to at most 6 tokens (--max-input-length; the first 5 named above)"),
            std::string::npos)
      << r.err;
}

TEST(MoeTranslate, OutputStreamsBeforeTheInputEnds) {
  // The writer sends one chunk (--mini-batch 1: 10 lines), then waits up to
  // 20 s for translations to appear before it sends the last line and ends
  // the input; it records whether they appeared in time.
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  std::string chunk;
  for (std::size_t i = 0; i < 10; ++i) chunk += t.pairs[i].first + "\n";
  write_file(dir, "chunk.txt", chunk);
  const std::string script =
      "cd " + shell_quote(dir) + " && { cat chunk.txt; i=0; while [ ! -s out.txt ] && [ $i -lt 400 ]; do "
      "sleep 0.05; i=$((i+1)); done; [ -s out.txt ] && touch streamed; echo " + shell_quote(t.pairs[10].first) +
      "; } | " + shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " +
      translate_args("--mini-batch 1") + " > out.txt";
  ASSERT_EQ(std::system(("sh -c " + shell_quote(script)).c_str()), 0);
  EXPECT_TRUE(fs::exists(dir + "/streamed")) << "no output before the input ended";
  EXPECT_EQ(lines_of(read_file(dir + "/out.txt")).size(), 11u);
}

TEST(MoeTranslate, SamplingIsSeeded) {
  const TinyRun& t = tiny_run();
  std::string input;
  for (std::size_t i = 0; i < 20; ++i) input += t.pairs[i].first + "\n";
  const auto a = run_app("moe-translate", translate_args("--sampling temperature:3 --seed 1"), input);
  const auto b = run_app("moe-translate", translate_args("--sampling temperature:3 --seed 1 --mini-batch 1"), input);
  const auto c = run_app("moe-translate", translate_args("--sampling temperature:3 --seed 2"), input);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);  // batching does not change the draws
  EXPECT_NE(a.out, c.out);
  // Seeds outside uint64 are errors, not the same wrapped or saturated seed.
  for (const std::string bad : {"-1", "18446744073709551616", "1e3"})
    expect_one_line_error(run_app("moe-translate", translate_args("--sampling temperature:3 --seed " + bad), "x\n"),
                          "--seed: must be an integer from 0 to 18446744073709551615, got " + bad);
  EXPECT_EQ(run_app("moe-translate", translate_args("--sampling temperature:3 --seed 18446744073709551615"), "x\n")
                .exit_code,
            0);
}

TEST(MoeTranslate, RoutingReportJsonShape) {
  const TinyRun& t = tiny_run();
  const auto r = run_app("moe-translate", translate_args("--output-format json --report-routing --beam-size 3 --n-best 2"),
                         t.pairs[0].first + "\n\n" + t.pairs[5].first + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 3u);
  // Each layer: one [e1, e2] and one [w1, w2] per row, experts of 4, weights
  // of a top-2 gate (dropless: both kept, summing to about 1).
  auto check_layers = [](const nlohmann::json& routing, const std::string& stack, std::size_t rows) {
    ASSERT_TRUE(routing.is_object());
    ASSERT_FALSE(routing.empty());
    for (const auto& [name, layer] : routing.items()) {
      EXPECT_EQ(name.rfind(stack + ".layer.", 0), 0u) << name;
      EXPECT_EQ(name.substr(name.size() - 4), ".moe") << name;
      ASSERT_EQ(layer["experts"].size(), rows) << name;
      ASSERT_EQ(layer["weights"].size(), rows) << name;
      for (std::size_t i = 0; i < rows; ++i) {
        const auto& e = layer["experts"][i];
        const auto& w = layer["weights"][i];
        ASSERT_EQ(e.size(), 2u);
        EXPECT_GE(e[0].get<int>(), 0);
        EXPECT_LT(e[0].get<int>(), 4);
        EXPECT_NE(e[0], e[1]);
        EXPECT_GE(w[0].get<double>(), w[1].get<double>());
        EXPECT_NEAR(w[0].get<double>() + w[1].get<double>(), 1.0, 1e-5);
      }
    }
  };
  for (std::size_t line : {0u, 2u}) {
    const auto j = nlohmann::json::parse(out[line]);
    // One row per target token, EOS included; one per source piece, <2en> and EOS included.
    check_layers(j["routing"], "decoder", j["tokens"].size() + 1);
    ASSERT_EQ(j["n_best"].size(), 2u);
    for (const auto& h : j["n_best"]) check_layers(h["routing"], "decoder", h["tokens"].size() + 1);
    EXPECT_EQ(j["n_best"][0]["routing"], j["routing"]);
    ASSERT_GE(j["source_tokens"].size(), 3u);
    EXPECT_EQ(j["source_tokens"].front(), "<2en>");
    EXPECT_EQ(j["source_tokens"].back(), "</s>");
    check_layers(j["source_routing"], "encoder", j["source_tokens"].size());
  }
  // The routes do not change the translation.
  const auto plain = run_app("moe-translate", translate_args("--output-format json --beam-size 3 --n-best 2"),
                             t.pairs[0].first + "\n");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(lines_of(plain.out)[0])["tokens"], nlohmann::json::parse(out[0])["tokens"]);
  // An empty line: no tokens, no routes.
  const auto empty = nlohmann::json::parse(out[1]);
  EXPECT_TRUE(empty["source_tokens"].empty());
  for (const auto& [name, layer] : empty["routing"].items()) EXPECT_TRUE(layer["experts"].empty()) << name;
  // Text output has no room for routes.
  expect_one_line_error(run_app("moe-translate", translate_args("--report-routing"), "x\n"), "--report-routing");
}

TEST(MoeTranslate, OutputFileIsReplacedOnlyOnSuccessAndMayBeTheInput) {
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  const std::string precious = write_file(dir, "precious.txt", "keep me\n");
  const std::string bad = write_file(dir, "bad.txt", t.pairs[0].first + "\nbad \xC3\x28 byte\n");
  expect_one_line_error(run_app("moe-translate", translate_args("-i " + shell_quote(bad) + " -o " + shell_quote(precious))),
                        bad + ":2: invalid UTF-8");
  EXPECT_EQ(read_file(precious), "keep me\n");
  // -o naming the input: the input is read whole, then replaced by its translation.
  const std::string same = write_file(dir, "same.txt", t.pairs[0].first + "\n" + t.pairs[1].first + "\n");
  const auto r = run_app("moe-translate", translate_args("-i " + shell_quote(same) + " -o " + shell_quote(same)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expected = run_app("moe-translate", translate_args(""), t.pairs[0].first + "\n" + t.pairs[1].first + "\n");
  EXPECT_EQ(read_file(same), expected.out);
  EXPECT_EQ(lines_of(expected.out).size(), 2u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 3);  // no temporary file left
}

// The temporary file is renamed over regular files only: a symbolic link
// keeps pointing at its (replaced) file, a FIFO is written, not replaced.
TEST(MoeTranslate, SymlinksAndPipesAreWrittenThrough) {
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  const std::string in = write_file(dir, "in.txt", t.pairs[0].first + "\n");
  const std::string expected = run_app("moe-translate", translate_args("-i " + shell_quote(in))).out;
  ASSERT_FALSE(expected.empty());
  write_file(dir, "target.txt", "old\n");
  fs::create_symlink("target.txt", dir + "/link.txt");
  const auto r = run_app("moe-translate", translate_args("-i " + shell_quote(in) + " -o " + shell_quote(dir + "/link.txt")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(dir + "/link.txt"));
  EXPECT_EQ(read_file(dir + "/target.txt"), expected);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(std::system(("mkfifo " + shell_quote(fifo)).c_str()), 0);
  const std::string script = "timeout 20 cat " + shell_quote(fifo) + " > " + shell_quote(dir + "/got") + " & " +
                             shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " +
                             translate_args("-i " + shell_quote(in) + " -o " + shell_quote(fifo)) + " && wait";
  ASSERT_EQ(std::system(("sh -c " + shell_quote(script)).c_str()), 0);
  EXPECT_EQ(fs::status(fifo).type(), fs::file_type::fifo);
  EXPECT_EQ(read_file(dir + "/got"), expected);
  // A dangling link: the file it names is created, the link stays one.
  fs::create_symlink("later.txt", dir + "/dangling.txt");
  const auto d = run_app("moe-translate", translate_args("-i " + shell_quote(in) + " -o " + shell_quote(dir + "/dangling.txt")));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(fs::is_symlink(dir + "/dangling.txt"));
  EXPECT_EQ(read_file(dir + "/later.txt"), expected);
}

// A pipe named by -i is read once: with the progress line on (output to a
// file, no -q) its lines were counted first, which consumed the whole input.
TEST(MoeTranslate, APipeNamedByInputIsTranslatedWithProgressOn) {
  const std::string dir = temp_dir();
  const std::string in = write_file(dir, "in.txt", tiny_run().pairs[0].first + "\n" + tiny_run().pairs[1].first + "\n");
  const std::string expected = run_app("moe-translate", translate_args("-i " + shell_quote(in))).out;
  const std::string fifo = dir + "/in.fifo";
  ASSERT_EQ(std::system(("mkfifo " + shell_quote(fifo)).c_str()), 0);
  std::string args = translate_args("-i " + shell_quote(fifo) + " -o " + shell_quote(dir + "/out.txt"));
  const std::string quiet = " -q ";
  ASSERT_NE(args.find(quiet), std::string::npos);
  args.replace(args.find(quiet), quiet.size(), " ");  // the progress line on
  const std::string script = "timeout 20 cat " + shell_quote(in) + " > " + shell_quote(fifo) + " & " +
                             shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " + args + " 2>" +
                             shell_quote(dir + "/err") + " && wait";
  ASSERT_EQ(std::system(("sh -c " + shell_quote(script)).c_str()), 0) << read_file(dir + "/err");
  EXPECT_EQ(read_file(dir + "/out.txt"), expected);
  EXPECT_NE(read_file(dir + "/err").find("moe-translate: 2 sentences in"), std::string::npos) << read_file(dir + "/err");
}

TEST(MoeTranslate, MinLengthBeyondTheModelsLongestOutputIsAnError) {
  // The tiny model has max_positions 64: at most 63 target tokens.
  expect_one_line_error(run_app("moe-translate", translate_args("--min-length 64"), "x\n"),
                        "--min-length: must be at most the model's longest output (max_positions - 1 = 63), got 64");
  EXPECT_EQ(run_app("moe-translate", translate_args("--min-length 63 --max-length-a 0 --max-length-b 63"),
                    tiny_run().pairs[0].first + "\n")
                .exit_code,
            0);
  // A limit of 0 still lets one token out, so a minimum of 1 can be met.
  const auto one = run_app("moe-translate", translate_args("--min-length 1 --max-length-a 0 --max-length-b 0"),
                           tiny_run().pairs[0].first + "\n");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_FALSE(one.out == "\n") << "one token, not an empty line";
  expect_one_line_error(run_app("moe-translate", translate_args("--min-length 2 --max-length-a 0 --max-length-b 0"), "x\n"),
                        "--min-length: must be at most the longest output, max(1, --max-length-b) = 1 when "
                        "--max-length-a is 0, got 2");
}

TEST(MoeTranslate, AnotherVocabularyInTheCheckpointIsRefused) {
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  auto res = run_app("moe-tokenize", "-q train --corpus " + shell_quote(t.dir) + " -o " + shell_quote(dir + "/other") +
                                         " --vocab-size 48 --sentences 2000 --normalization identity");
  ASSERT_EQ(res.exit_code, 0) << res.err;
  fs::copy(t.run, dir + "/run", fs::copy_options::recursive);
  std::string vocab;
  for (const auto& f : fs::recursive_directory_iterator(dir + "/run"))
    if (f.path().filename() == "vocab.model" && f.path().parent_path().filename().string().rfind("step-", 0) == 0)
      vocab = f.path().string();
  ASSERT_FALSE(vocab.empty());
  fs::copy_file(dir + "/other.model", vocab, fs::copy_options::overwrite_existing);
  expect_one_line_error(run_app("moe-translate", "-m " + shell_quote(dir + "/run") + " -q", t.pairs[0].first + "\n"),
                        vocab + ": not the vocabulary this checkpoint was trained with");
}

// Language tags and control pieces are instructions, never text: sampling
// from the whole vocabulary at a high temperature would otherwise draw them.
TEST(MoeTranslate, TagsAndControlPiecesAreNeverGenerated) {
  const TinyRun& t = tiny_run();
  std::string input;
  for (std::size_t i = 0; i < 20; ++i) input += t.pairs[i].first + "\n";
  const auto r = run_app("moe-translate",
                         translate_args("--sampling topk:0,temperature:50 --beam-size 4 --n-best 4 --output-format json"),
                         input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t tokens = 0;
  for (const std::string& line : lines_of(r.out)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    for (const auto& h : j["n_best"]) {
      EXPECT_EQ(h["hypothesis"].get<std::string>().find("<2"), std::string::npos) << h["hypothesis"];
      for (const auto& piece : h["tokens"]) {
        const std::string p = piece.get<std::string>();
        EXPECT_TRUE(p != "<2en>" && p != "<2de>" && p != "<2fr>" && p != "<s>" && p != "<pad>") << p;
        ++tokens;
      }
    }
  }
  EXPECT_GT(tokens, 1000u);  // enough draws that 5 of 48 pieces would show
}

// SentencePiece's time grows quadratically over a run of unknown characters
// (1M took 23 s); the source is cut to a byte budget first.
TEST(MoeTranslate, AHugeLineIsCutBeforeItIsEncoded) {
  // (Whether the cut saves time is bench/ material; here: that it happens
  // before encoding, which the warning reports.)
  const auto r = run_app("moe-translate", translate_args(""), std::string(1 << 20, 'x') + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 1u);
  // Cut by bytes, not tokens (a run of unknown characters is one <unk>): the
  // warning says which, and which limit (the model's 64 positions, not the
  // flag's default 256).
  EXPECT_TRUE(std::regex_search(r.err, std::regex("<stdin>:1: source longer than 64 tokens can span \\(the model's "
                                                  "max_positions\\): cut to its first [0-9]+ bytes before "
                                                  "encoding, [2-4] tokens kept\n")))
      << r.err;
}

// Whitespace and invisible characters count for nothing in that byte
// budget: a short sentence after 20000 spaces or zero-width spaces is
// translated whole, not cut to nothing.
TEST(MoeTranslate, LeadingBlanksDoNotUseUpTheByteBudget) {
  const std::string sentence = tiny_run().pairs[0].first;
  const std::string expected = run_app("moe-translate", translate_args(""), sentence + "\n").out;
  std::string zero_width_spaces;
  for (int i = 0; i < 5000; ++i) zero_width_spaces += "\u200b";
  for (const std::string& blanks : {std::string(20000, ' '), zero_width_spaces}) {
    const auto r = run_app("moe-translate", translate_args(""), blanks + sentence + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, expected);
    EXPECT_EQ(r.err, "");
  }
}

TEST(MoeTranslate, ABeamWiderThanTheVocabularyIsAnError) {
  // The tiny model has 48 pieces.
  expect_one_line_error(run_app("moe-translate", translate_args("--beam-size 49"), "x\n"),
                        "--beam-size: must be at most the vocabulary size (48), got 49");
  expect_one_line_error(run_app("moe-translate", translate_args("--sampling topk:3 --beam-size 20000"), "x\n"),
                        "--beam-size: must be at most the vocabulary size (48), got 20000");
}

// a * source tokens + b beyond int64 is the model's limit (63), so
// --min-length still holds (the overflowing cast gave one token).
TEST(MoeTranslate, AHugeMaxLengthFactorKeepsMinLength) {
  const auto r = run_app("moe-translate", translate_args("--max-length-a 1e30 --min-length 12 --output-format json"),
                         tiny_run().pairs[0].first + "\n" + tiny_run().pairs[1].first + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& line : lines_of(r.out)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_GE(j["tokens"].size(), 12u) << line;
    EXPECT_LE(j["tokens"].size(), 63u) << line;
  }
}

TEST(MoeTranslate, WriteErrorsOnStdoutAreOneLine) {
  const std::string dir = temp_dir();
  const std::string cmd = "printf '" + tiny_run().pairs[0].first + "\\n' | " +
                          shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " + translate_args("") +
                          " > /dev/full 2> " + shell_quote(dir + "/err");
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);
  EXPECT_EQ(read_file(dir + "/err"), "moe-translate: error: <stdout>: write failed\n");
}

// mpirun as CI runs it: as root, possibly in a container.
std::string mpirun(int ranks) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "OMPI_MCA_btl_vader_single_copy_mechanism=none timeout -k 5 60 mpirun --oversubscribe -np " +
         std::to_string(ranks) + " ";
}

struct Shell {
  int code;
  std::string out, err;
};

// "line N: A | B" for the first differing line of two outputs (they can be long).
std::string first_difference(const std::string& a, const std::string& b) {
  const auto la = lines_of(a), lb = lines_of(b);
  for (std::size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    const std::string x = i < la.size() ? la[i] : "<none>", y = i < lb.size() ? lb[i] : "<none>";
    if (x != y) return "line " + std::to_string(i + 1) + ":\n" + x.substr(0, 2000) + "\n" + y.substr(0, 2000);
  }
  return "same lines";
}

Shell shell(const std::string& prefix, const std::string& args, const std::string& input_file) {
  const std::string dir = temp_dir();
  const std::string cmd = prefix + shell_quote(std::string(MOE_BIN_DIR) + "/moe-translate") + " " + args + " < " +
                          shell_quote(input_file) + " > " + dir + "/out 2> " + dir + "/err";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir + "/out"), read_file(dir + "/err")};
}

// JSON lines equal up to float noise: every string, id and count exactly,
// numbers (scores, gate weights) within 1e-4.
void expect_json_close(const nlohmann::json& a, const nlohmann::json& b, const std::string& where) {
  ASSERT_EQ(a.type(), b.type()) << where;
  if (a.is_number_float() || b.is_number_float()) {
    EXPECT_NEAR(a.get<double>(), b.get<double>(), 1e-4) << where;
  } else if (a.is_object() || a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (a.is_object()) {
        ASSERT_EQ(ia.key(), ib.key()) << where;
      }
      expect_json_close(*ia, *ib, where + (a.is_object() ? "." + ia.key() : "[]"));
    }
  } else {
    EXPECT_EQ(a, b) << where;
  }
}

// Experts sharded over 2 ranks translate as one process does, for a
// checkpoint written by one process (each rank reads its half of the one
// expert file) and one written by 2 ranks (each rank reads its own shard
// file); stdin reaches rank 0 only, so the input travels by broadcast. The
// text is the same byte for byte; numbers may differ in the last bits, since
// a sharded expert's GEMM has other rows beside a token than in one process
// (docs/translate.md).
TEST(MoeTranslateMesh, TwoRanksTranslateAsOneProcess) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  std::string input;
  for (std::size_t i = 0; i < 25; ++i) input += t.pairs[i * 7].first + "\n" + (i == 3 ? "\n" : "");
  const std::string in = write_file(dir, "in.txt", input);
  // A few steps of training on 2 ranks with sharded experts.
  const std::string sharded = dir + "/sharded";
  const std::string train = mpirun(2) + shell_quote(std::string(MOE_BIN_DIR) + "/moe-train") + " " +
                            shell_quote(t.dir + "/recipe.yaml") + " -q --set train.max_steps=30 --set mesh.expert=2" +
                            " --set checkpoint.dir=" + shell_quote(sharded) + " > " + dir + "/train.log 2>&1";
  ASSERT_EQ(std::system(train.c_str()), 0) << read_file(dir + "/train.log");
  ASSERT_TRUE(fs::exists(sharded + "/checkpoints/step-00000030/weights-experts-1-of-2.safetensors"));
  for (const std::string& run : {t.run, sharded}) {
    for (const std::string& flags : {std::string("--mini-batch 4"),
                                     std::string("--beam-size 4 --n-best 2 --output-format json --report-routing")}) {
      const std::string args = "-m " + shell_quote(run) + " -q --threads 1 " + flags;
      const Shell one = shell("", args, in);
      // -o: rank 0 alone writes the file.
      const std::string out = dir + "/out.txt";
      Shell two = shell(mpirun(2), args + " -o " + shell_quote(out), in);
      ASSERT_EQ(one.code, 0) << one.err;
      ASSERT_EQ(two.code, 0) << two.err;
      EXPECT_EQ(two.out, "");
      EXPECT_EQ(two.err, "");
      two.out = read_file(out);
      const auto one_lines = lines_of(one.out), two_lines = lines_of(two.out);
      ASSERT_EQ(one_lines.size(), 26u);
      ASSERT_EQ(two_lines.size(), 26u);
      if (flags.find("json") == std::string::npos) {
        EXPECT_TRUE(two.out == one.out) << run << " " << flags << ": " << first_difference(two.out, one.out);
        continue;
      }
      for (std::size_t i = 0; i < one_lines.size(); ++i)
        expect_json_close(nlohmann::json::parse(two_lines[i]), nlohmann::json::parse(one_lines[i]),
                          run + " line " + std::to_string(i + 1));
    }
  }
}

TEST(MoeTranslateMesh, ExpertsThatDoNotSplitOrAMissingShardEndTheJob) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  const TinyRun& t = tiny_run();
  const std::string dir = temp_dir();
  const std::string in = write_file(dir, "in.txt", t.pairs[0].first + "\n");
  const Shell three = shell(mpirun(3), "-m " + shell_quote(t.run) + " -q", in);
  EXPECT_NE(three.code, 0);
  EXPECT_NE(three.err.find("moe-translate: rank 0 of 3: error: model.moe.num_experts: 4 experts cannot be split over 3"),
            std::string::npos)
      << three.err;
  EXPECT_EQ(three.out, "");
  // A checkpoint whose expert file is gone.
  const std::string copy = dir + "/run";
  fs::copy(t.run, copy, fs::copy_options::recursive);
  int removed = 0;
  for (const auto& f : fs::recursive_directory_iterator(copy))
    if (f.path().filename().string().rfind("weights-experts-", 0) == 0) removed += fs::remove(f.path());
  ASSERT_GT(removed, 0);
  const Shell missing = shell(mpirun(2), "-m " + shell_quote(copy) + " -q", in);
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.err.find("error: "), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("weights-experts-"), std::string::npos) << missing.err;
}

TEST(MoeTranslate, ARepeatedFlagTakesItsLastValue) {
  // As fairseq (argparse): no "At Most 1 required but received 2". translate_args
  // already gives --threads 1 and -q.
  const TinyRun& t = tiny_run();
  const auto r = run_app("moe-translate",
                         translate_args("--threads 2 -q --output-format text --output-format json -n 1 -n 2"),
                         t.pairs[0].first + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1u) << r.out;
  const auto j = nlohmann::json::parse(out[0], nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << out[0];
  EXPECT_EQ(j["n_best"].size(), 2u);
}

}  // namespace
}  // namespace moe::test
