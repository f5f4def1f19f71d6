// End-to-end tests of moe-tokenize: the corpus builder on a package cache
// holding a real .deb (offline), vocabulary training, encode/decode, and the
// one-line errors users see.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <sys/wait.h>

#include "cli/run_command.h"

namespace moe::test {
namespace {
namespace fs = std::filesystem;

// A little-endian .mo with a UTF-8 header and the given (msgid, msgstr) pairs, sorted.
std::string mo_bytes(std::vector<std::pair<std::string, std::string>> pairs) {
  pairs.insert(pairs.begin(), {"", "Content-Type: text/plain; charset=UTF-8\n"});
  std::sort(pairs.begin(), pairs.end());
  std::string out, blob;
  auto put = [&](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out += static_cast<char>(v >> (8 * k));
  };
  const auto n = static_cast<std::uint32_t>(pairs.size());
  const std::uint32_t data = 28 + 16 * n;
  for (std::uint32_t v : {0x950412deu, 0u, n, 28u, 28u + 8 * n, 0u, data}) put(v);
  for (int side = 0; side < 2; ++side)
    for (const auto& p : pairs) {
      const std::string& s = side ? p.second : p.first;
      put(static_cast<std::uint32_t>(s.size()));
      put(data + static_cast<std::uint32_t>(blob.size()));
      blob += s + '\0';
    }
  return out + blob;
}

// CACHE/debs/l10n-test_1.0_all.deb with German and Russian catalogs.
void write_package_cache(const fs::path& cache) {
  const fs::path root = cache / "root";
  fs::create_directories(root / "DEBIAN");
  std::ofstream(root / "DEBIAN" / "control")
      << "Package: l10n-test\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test\n";
  const std::vector<std::pair<std::string, std::string>> english = {
      {"Open the file", ""}, {"Close the window", ""}, {"Save the settings", ""}, {"Print the document", ""}};
  const std::vector<std::string> german = {"Datei öffnen", "Fenster schließen", "Einstellungen speichern",
                                           "Dokument drucken"};
  const std::vector<std::string> russian = {"Открыть файл", "Закрыть окно", "Сохранить настройки", "Печать документа"};
  std::vector<std::pair<std::string, std::string>> de, ru;
  for (std::size_t i = 0; i < english.size(); ++i) {
    de.emplace_back(english[i].first, german[i]);
    ru.emplace_back(english[i].first, russian[i]);
  }
  fs::create_directories(root / "usr/share/locale/de/LC_MESSAGES");
  fs::create_directories(root / "usr/share/locale/ru/LC_MESSAGES");
  std::ofstream(root / "usr/share/locale/de/LC_MESSAGES/test.mo", std::ios::binary) << mo_bytes(de);
  std::ofstream(root / "usr/share/locale/ru/LC_MESSAGES/test.mo", std::ios::binary) << mo_bytes(ru);
  fs::create_directories(cache / "debs");
  const std::string cmd = "dpkg-deb --root-owner-group --build " + shell_quote(root.string()) + " " +
                          shell_quote((cache / "debs" / "l10n-test_1.0_all.deb").string()) + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(TokenizeCli, CorpusFromACachedPackageWithStatsAndCachedRerun) {
  const std::string dir = temp_dir();
  write_package_cache(fs::path(dir) / "cache");
  const std::string list = write_file(dir, "list.txt", "# one package\nl10n-test\n");
  const std::string args = "corpus --offline --stats -l " + shell_quote(list) + " -c " + shell_quote(dir + "/cache") +
                           " -o " + shell_quote(dir + "/out");
  const CommandResult first = run_app("moe-tokenize", args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("2 languages"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("1 extracted"), std::string::npos) << first.out;
  const std::string german = read_file(dir + "/out/train/de.tsv") + read_file(dir + "/out/dev/de.tsv") +
                             read_file(dir + "/out/test/de.tsv");
  EXPECT_EQ(count_lines(german), 4);
  EXPECT_NE(german.find("Fenster schließen\tClose the window\n"), std::string::npos);
  EXPECT_NE(read_file(dir + "/out/stats.tsv").find("\nru\t"), std::string::npos);
  // Not a terminal: progress comes as plain lines, no carriage returns.
  EXPECT_EQ(first.err.find('\r'), std::string::npos);
  EXPECT_NE(first.err.find("extract 1/1 l10n-test"), std::string::npos) << first.err;

  const CommandResult second = run_app("moe-tokenize", args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("1 parses cached, 0 extracted"), std::string::npos) << second.out;
}

TEST(TokenizeCli, BadPackageListIsAOneLineErrorWithFileAndLine) {
  const std::string dir = temp_dir();
  const std::string list = write_file(dir, "list.txt", "gedit-common\nNot_A_Package\n");
  const CommandResult r = run_app("moe-tokenize", "corpus --offline -l " + shell_quote(list) + " -c " +
                                                      shell_quote(dir + "/c") + " -o " + shell_quote(dir + "/o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(list + ":2:"), std::string::npos) << r.err;
}

TEST(TokenizeCli, TrainEncodeDecodeRoundTripAndSpmCompatibility) {
  const std::string dir = temp_dir();
  fs::create_directories(dir + "/corpus/train");
  std::string de, fr;
  for (int i = 0; i < 200; ++i) {
    de += "Datei Nummer " + std::to_string(i) + " öffnen\tOpen file number " + std::to_string(i) + "\n";
    fr += "Ouvrir le fichier numéro " + std::to_string(i) + "\tOpen file number " + std::to_string(i) + "\n";
  }
  write_file(dir + "/corpus/train", "de.tsv", de);
  write_file(dir + "/corpus/train", "fr.tsv", fr);
  const CommandResult train = run_app("moe-tokenize", "train -q --corpus " + shell_quote(dir + "/corpus") + " -o " +
                                                          shell_quote(dir + "/spm") +
                                                          " --vocab-size 80 --sentences 300 --seed 3");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  ASSERT_TRUE(fs::exists(dir + "/spm.model"));

  const std::string model = shell_quote(dir + "/spm.model");
  const std::string input = "7\tDatei Nummer 12 öffnen\tOpen file number 12\n8\tOuvrir le fichier\tOpen file\n";
  const CommandResult ids = run_app("moe-tokenize", "encode --ids --columns 2,3 -m " + model, input);
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out.substr(0, 2), "7\t");
  EXPECT_EQ(ids.out.find("Datei"), std::string::npos);
  const CommandResult text = run_app("moe-tokenize", "decode --ids --columns 2,3 -m " + model, ids.out);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, input);

  const CommandResult pieces = run_app("moe-tokenize", "encode -m " + model, "<2de> Datei öffnen\n");
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  EXPECT_NE(pieces.out.find("<2de>"), std::string::npos);

  // The model is a plain SentencePiece model: spm_encode gives the same ids.
  const std::string spm_out = dir + "/spm_out";
  const std::string spm = "printf 'Datei Nummer 12 öffnen\\n' | spm_encode --model " + model +
                          " --output_format=id > " + shell_quote(spm_out) + " 2>/dev/null";
  if (std::system("command -v spm_encode >/dev/null 2>&1") != 0) GTEST_SKIP() << "spm_encode not installed";
  ASSERT_EQ(std::system(spm.c_str()), 0);
  const CommandResult ours = run_app("moe-tokenize", "encode --ids -m " + model, "Datei Nummer 12 öffnen\n");
  EXPECT_EQ(read_file(spm_out), ours.out);
}

TEST(TokenizeCli, SeparateSourceAndEnglishModels) {
  const std::string dir = temp_dir();
  fs::create_directories(dir + "/corpus/train");
  std::string de;
  for (int i = 0; i < 100; ++i) de += "Datei Nummer " + std::to_string(i) + " öffnen\tOpen file number " + std::to_string(i) + "\n";
  write_file(dir + "/corpus/train", "de.tsv", de);
  const CommandResult r = run_app("moe-tokenize", "train -q --separate --corpus " + shell_quote(dir + "/corpus") +
                                                      " -o " + shell_quote(dir + "/spm") + " --vocab-size 30 --sentences 100");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string source = read_file(dir + "/spm.source.vocab"), target = read_file(dir + "/spm.target.vocab");
  EXPECT_NE(source.find("<2de>"), std::string::npos);
  EXPECT_NE(target.find("<2en>"), std::string::npos);
  EXPECT_EQ(target.find("<2de>"), std::string::npos);  // the English model needs no source tags
  EXPECT_EQ(target.find("ö"), std::string::npos);      // and sees no German
}

// A small corpus and a model trained on it, made once per test binary.
struct SmallModel {
  std::string corpus, model;
};
const SmallModel& small_model() {
  static const SmallModel m = [] {
    SmallModel s;
    const std::string dir = temp_dir();
    s.corpus = dir + "/corpus";
    fs::create_directories(s.corpus + "/train");
    std::string de;
    for (int i = 0; i < 100; ++i) de += "Datei Nummer " + std::to_string(i) + " öffnen\tOpen file number " + std::to_string(i) + "\n";
    write_file(s.corpus + "/train", "de.tsv", de);
    const CommandResult r = run_app("moe-tokenize", "train -q --corpus " + shell_quote(s.corpus) + " -o " +
                                                        shell_quote(dir + "/spm") + " --vocab-size 40 --sentences 100");
    if (r.exit_code != 0) throw std::runtime_error("moe-tokenize train failed: " + r.err);
    s.model = dir + "/spm.model";
    return s;
  }();
  return m;
}

// A failed run: exit status 1 and one "moe-tokenize: error: " line holding `what`.
void expect_one_line_error(const CommandResult& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("moe-tokenize: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

// `moe-tokenize ARGS < stdin_path > stdout_path`, for inputs and outputs that
// run_app cannot give (a directory, /dev/full); an empty stdin_path closes stdin.
CommandResult run_redirected(const std::string& args, const std::string& stdin_path, const std::string& stdout_path) {
  const std::string err = temp_dir() + "/err";
  const std::string cmd = shell_quote(std::string(MOE_BIN_DIR) + "/moe-tokenize") + " " + args +
                          (stdin_path.empty() ? " 0<&-" : " < " + shell_quote(stdin_path)) + " > " +
                          shell_quote(stdout_path) + " 2> " + shell_quote(err);
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err);
  return r;
}

// Every file under `dir` (relative path -> bytes), hidden ones included.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    files[fs::relative(entry.path(), dir).string()] = entry.is_regular_file() ? read_file(entry.path().string()) : "<dir>";
  return files;
}

TEST(TokenizeCli, AFailedCorpusBuildLeavesTheEarlierCorpusByteIdentical) {
  const std::string dir = temp_dir();
  write_package_cache(fs::path(dir) / "cache");
  const std::string cache = " -c " + shell_quote(dir + "/cache");
  const std::string good = write_file(dir, "good.txt", "l10n-test\n");
  const std::string out = dir + "/out";
  ASSERT_EQ(run_app("moe-tokenize", "corpus -q --offline -l " + shell_quote(good) + cache + " -o " + shell_quote(out))
                .exit_code,
            0);
  write_file(out + "/train", "notes.txt", "not a language: kept\n");
  const std::map<std::string, std::string> before = snapshot(out);
  ASSERT_EQ(before.count("train/de.tsv"), 1u);

  // Nothing can be extracted: the package is not in the cache.
  const std::string missing = write_file(dir, "missing.txt", "not-cached\n");
  const CommandResult r =
      run_app("moe-tokenize", "corpus -q --offline -l " + shell_quote(missing) + cache + " -o " + shell_quote(out));
  expect_one_line_error(r, missing + ": no translation pairs from its 1 package");
  EXPECT_EQ(snapshot(out), before);
  // Without -q the warnings come first, and the error line still ends the output.
  const CommandResult loud =
      run_app("moe-tokenize", "corpus --offline -l " + shell_quote(missing) + cache + " -o " + shell_quote(out));
  EXPECT_EQ(loud.exit_code, 1);
  EXPECT_NE(loud.err.find("\nmoe-tokenize: error: " + missing + ": "), std::string::npos) << loud.err;
  EXPECT_EQ(snapshot(out), before);
  // A new OUT is not left behind either.
  expect_one_line_error(run_app("moe-tokenize", "corpus -q --offline -l " + shell_quote(missing) + cache + " -o " +
                                                    shell_quote(dir + "/new/corpus")),
                        "no translation pairs");
  EXPECT_FALSE(fs::exists(dir + "/new"));

  // A rebuild replaces the languages and keeps what is not a language file.
  const CommandResult again =
      run_app("moe-tokenize", "corpus -q --offline -l " + shell_quote(good) + cache + " -o " + shell_quote(out));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(snapshot(out), before);
}

TEST(TokenizeCli, OutputAndCachePathsThatCannotBeCreatedAreUserErrors) {
  const std::string dir = temp_dir();
  const std::string file = write_file(dir, "plain.txt", "a regular file\n");
  const std::string list = write_file(dir, "list.txt", "l10n-test\n");
  const std::string args = "corpus -q --offline -l " + shell_quote(list);
  expect_one_line_error(
      run_app("moe-tokenize", args + " -c " + shell_quote(dir + "/cache") + " -o " + shell_quote(file + "/out")),
      file + "/out: cannot create the directory: Not a directory");
  expect_one_line_error(run_app("moe-tokenize", args + " -c " + shell_quote(dir + "/cache") + " -o " + shell_quote(file)),
                        file + ": the output path exists and is not a directory");
  expect_one_line_error(
      run_app("moe-tokenize", args + " -c " + shell_quote(file + "/cache") + " -o " + shell_quote(dir + "/out")),
      file + "/cache/debs: cannot create the directory: Not a directory");
  EXPECT_EQ(read_file(file), "a regular file\n");
  EXPECT_FALSE(fs::exists(dir + "/out"));
  expect_one_line_error(
      run_app("moe-tokenize", "train -q --corpus " + shell_quote(small_model().corpus) + " -o " +
                                  shell_quote(dir + "/no/such/spm") + " --vocab-size 40 --sentences 100"),
      dir + "/no/such/spm.model: the directory " + dir + "/no/such does not exist");
}

TEST(TokenizeCli, NegativeAndNanNumbersAreFlagErrors) {
  const std::string dir = temp_dir();
  // Were a flag accepted, each command would fail otherwise, quickly: the
  // corpus has no languages, the package list has a bad name.
  fs::create_directories(dir + "/empty");
  const std::string train = "train --corpus " + shell_quote(dir + "/empty") + " -o " + shell_quote(dir + "/spm") + " ";
  const std::string list = write_file(dir, "list.txt", "Bad_Name\n");
  const std::string corpus = "corpus --offline -l " + shell_quote(list) + " -c " + shell_quote(dir + "/c") + " -o " +
                             shell_quote(dir + "/o") + " ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {train + "--sentences -1", "--sentences: Value -1 not in range"},
      {train + "--sentences 0", "--sentences: Value 0 not in range"},
      {train + "--seed -1", "--seed: Value -1 not in range"},
      {train + "-T nan", "--temperature: Value nan not in range"},
      {train + "--character-coverage nan", "--character-coverage: Value nan not in range"},
      {corpus + "--max-dev -1", "--max-dev: Value -1 not in range"},
      {corpus + "--max-test -1", "--max-test: Value -1 not in range"},
  };
  for (const auto& [args, what] : cases) {
    SCOPED_TRACE(args);
    expect_one_line_error(run_app("moe-tokenize", args), what);
  }
}

TEST(TokenizeCli, ErrorsNamingAPathWithANewlineStayOneLine) {
  const std::string dir = temp_dir();
  const std::string list = write_file(dir, "two\nlines.txt", "Bad_Name\n");
  const CommandResult r = run_app("moe-tokenize", "corpus --offline -l " + shell_quote(list) + " -c " +
                                                      shell_quote(dir + "/c") + " -o " + shell_quote(dir + "/o"));
  expect_one_line_error(r, dir + "/two\\x0Alines.txt:1: 'Bad_Name' is not a Debian package name");
}

TEST(TokenizeCli, EncodeRejectsInvalidUtf8NamingTheLine) {
  const std::string m = "-m " + shell_quote(small_model().model);
  const CommandResult r = run_app("moe-tokenize", "encode " + m, "Datei\nab\xff" "cd\n");
  expect_one_line_error(r, "<stdin>:2: invalid UTF-8");
  EXPECT_EQ(r.out.find("cd"), std::string::npos) << r.out;
}

TEST(TokenizeCli, ColumnErrorsAreShortAndNameTheLine) {
  const std::string m = "-m " + shell_quote(small_model().model);
  const CommandResult zero = run_app("moe-tokenize", "encode --columns 0 " + m, "a\tb\n");
  expect_one_line_error(zero, "--columns");
  EXPECT_LT(zero.err.size(), 100u) << zero.err;
  expect_one_line_error(run_app("moe-tokenize", "encode --columns 5 " + m, "a\tb\n"),
                        "<stdin>:1: column 5 is asked for, but the line has only 2 columns");
}

TEST(TokenizeCli, WriteErrorsAndDirectoriesAreOneLine) {
  const std::string dir = temp_dir();
  const std::string m = "-m " + shell_quote(small_model().model);
  const std::string in = write_file(dir, "in.txt", "Datei öffnen\n");
  const CommandResult full = run_redirected("encode " + m, in, "/dev/full");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_EQ(full.err, "moe-tokenize: error: <stdout>: write failed\n");
  const CommandResult directory = run_redirected("encode " + m, dir, dir + "/out");
  EXPECT_EQ(directory.exit_code, 1);
  EXPECT_EQ(directory.err, "moe-tokenize: error: <stdin>: cannot read input: is a directory\n");
  // A closed stdin is a read error, not an empty input.
  for (const char* command : {"encode ", "decode "}) {
    const CommandResult closed = run_redirected(command + m, "", dir + "/out");
    EXPECT_EQ(closed.exit_code, 1) << command;
    EXPECT_EQ(closed.err, "moe-tokenize: error: <stdin>: read error: Bad file descriptor\n") << command;
  }
}

TEST(TokenizeCli, DuplicateUserSymbolsAreOneLineBeforeTraining) {
  const std::string dir = temp_dir();
  const std::string args = "train -q --corpus " + shell_quote(small_model().corpus) + " -o " + shell_quote(dir + "/spm") +
                           " --vocab-size 40 --sentences 100 --user-symbols ";
  expect_one_line_error(run_app("moe-tokenize", args + "'<x>' '<y>' '<x>'"), "--user-symbols: '<x>' is given twice");
  expect_one_line_error(run_app("moe-tokenize", args + "'<2en>'"), "--user-symbols: '<2en>' is already a language tag");
  EXPECT_FALSE(fs::exists(dir + "/spm.model"));
  // Without the automatic tags the same symbol is fine.
  EXPECT_EQ(run_app("moe-tokenize", args + "'<2en>' --no-language-tags").exit_code, 0);
}

TEST(TokenizeCli, CodecErrorsAreOneLineAndNonZero) {
  const CommandResult missing = run_app("moe-tokenize", "encode -m /nonexistent/model.model", "x\n");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(count_lines(missing.err), 1) << missing.err;
  EXPECT_EQ(missing.err.rfind("moe-tokenize: error: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/model.model"), std::string::npos) << missing.err;
  for (const char* usage : {"", "encode --bogus", "frobnicate"}) {
    const CommandResult r = run_app("moe-tokenize", usage);
    EXPECT_EQ(r.exit_code, 1) << usage;
    EXPECT_EQ(count_lines(r.err), 1) << usage << ": " << r.err;
    EXPECT_EQ(r.err.rfind("moe-tokenize: error: ", 0), 0u) << r.err;
  }
  const std::string dir = temp_dir();
  const std::string not_model = write_file(dir, "bad.model", "this is not a protobuf");
  const CommandResult bad = run_app("moe-tokenize", "encode -m " + shell_quote(not_model), "x\n");
  EXPECT_EQ(bad.exit_code, 1);
  // SentencePiece's own source location and failed condition are no use to a user.
  EXPECT_EQ(bad.err, "moe-tokenize: error: " + not_model + ": not a SentencePiece model\n");
  const std::string empty = write_file(dir, "empty.model", "");
  EXPECT_EQ(run_app("moe-tokenize", "encode -m " + shell_quote(empty), "x\n").err,
            "moe-tokenize: error: " + empty + ": not a SentencePiece model (empty)\n");
}

TEST(TokenizeCli, ARepeatedFlagTakesItsLastValue) {
  // As argparse and fairseq: no "At Most 1 required but received 2".
  const std::string model = shell_quote(small_model().model);
  const std::string not_model = shell_quote(write_file(temp_dir(), "bad.model", "not a model"));
  const CommandResult ids =
      run_app("moe-tokenize", "encode -m " + not_model + " -m " + model + " -j 1 -j 2 --ids --ids", "Datei\n");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_FALSE(ids.out.empty());
  EXPECT_EQ(ids.out.find_first_not_of("0123456789 \n"), std::string::npos) << ids.out;
  expect_one_line_error(run_app("moe-tokenize", "encode -m " + model + " -m " + not_model, "Datei\n"),
                        "not a SentencePiece model");
}

TEST(TokenizeCli, VersionAndUsageName) {
  CommandResult r = run_app("moe-tokenize", "-V");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("moe-tokenize ", 0), 0u) << r.out;
  r = run_app("moe-tokenize", "--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: moe-tokenize"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace moe::test
