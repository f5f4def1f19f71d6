#include "data/corpus_builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/corpus_reader.h"
#include "data/deb_archive.h"
#include "data/mo_catalog.h"
#include "fake_deb.h"
#include "util/error.h"
#include "util/log.h"

namespace moe::data {
namespace {
namespace fs = std::filesystem;

class CorpusBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moe-corpus-builder-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cache" / "debs");
    log::set_level(log::Level::kQuiet);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    log::set_level(log::Level::kInfo);
  }

  static std::string german_catalog() {
    MoCatalog catalog;
    catalog.entries.push_back({"", "Open the file", "", {"Datei öffnen"}});
    catalog.entries.push_back({"", "_Close the window", "", {"Fenster _schließen"}});
    catalog.entries.push_back({"", "Save", "", {"Save"}});  // copy of English: dropped
    return serialize_mo(catalog);
  }
  static std::string french_catalog_big_endian() {
    MoCatalog catalog;
    catalog.entries.push_back({"", "Open the file", "", {"Ouvrir le fichier"}});
    return serialize_mo(catalog, /*big_endian=*/true);
  }

  CorpusBuildOptions options(const std::string& list_text) {
    std::ofstream(dir_ / "list.txt") << list_text;
    CorpusBuildOptions o;
    o.package_list = (dir_ / "list.txt").string();
    o.cache_dir = (dir_ / "cache").string();
    o.out_dir = (dir_ / "out").string();
    o.download = false;  // unit tests never touch the network
    return o;
  }

  fs::path dir_;
};

TEST_F(CorpusBuilderTest, BuildsSplitsFromRealDebsAndReusesTheParseCache) {
  ASSERT_FALSE(testing::build_fake_deb(dir_ / "cache" / "debs", "app-l10n",
                                       {{"usr/share/locale/de/LC_MESSAGES/app.mo", german_catalog()},
                                        {"usr/share/locale/fr/LC_MESSAGES/app.mo", french_catalog_big_endian()},
                                        {"usr/share/locale/en_GB/LC_MESSAGES/app.mo", german_catalog()},
                                        {"usr/share/locale/de/LC_MESSAGES/broken.mo", "garbage bytes, not a catalog"},
                                        {"usr/share/locale/qqx/LC_MESSAGES/app.mo", french_catalog_big_endian()},
                                        {"usr/share/doc/app-l10n/README", "not a catalog"}})
                   .empty());
  ASSERT_FALSE(testing::build_fake_deb(dir_ / "cache" / "debs", "tool-data",
                                       {{"usr/share/locale/de_AT/LC_MESSAGES/tool.mo", german_catalog()},
                                        {"DEBIAN/templates",
                                         "Template: tool/ask\nType: boolean\nDescription: Enable the network service?\n"
                                         "Description-de.UTF-8: Den Netzwerkdienst aktivieren?\n"}})
                   .empty());
  std::vector<std::string> progress;
  const CorpusBuildReport report = build_corpus(
      options("# test list\napp-l10n\ntool-data  # comment\nmissing-package\n"),
      [&](const std::string& message) { progress.push_back(message); });

  EXPECT_EQ(report.packages, 3u);
  EXPECT_EQ(report.download_failed, 1u);  // missing-package: reported and skipped
  EXPECT_EQ(report.extracted, 2u);
  EXPECT_EQ(report.corrupt_catalogs, 1u);
  // qqx is no language we know: logged, and kept under its own code.
  EXPECT_EQ(report.unknown_locales, std::vector<std::string>{"qqx"});
  ASSERT_EQ(report.languages.size(), 3u);
  EXPECT_EQ(report.languages[0].code, "de");
  // de and de_AT merge; their identical pairs are duplicates; en_GB is dropped.
  EXPECT_EQ(report.languages[0].train + report.languages[0].dev + report.languages[0].test, 3u);
  EXPECT_EQ(report.languages[0].duplicates, 2u);
  EXPECT_EQ(report.languages[1].code, "fr");
  EXPECT_EQ(report.languages[2].code, "qqx");
  EXPECT_FALSE(progress.empty());

  std::vector<Pair> german = read_corpus_pairs((dir_ / "out").string(), Split::kTrain, "de");
  for (Split s : {Split::kDev, Split::kTest})
    for (auto& p : read_corpus_pairs((dir_ / "out").string(), s, "de")) german.push_back(p);
  EXPECT_NE(std::find(german.begin(), german.end(), Pair("Fenster schließen", "Close the window")), german.end());
  EXPECT_NE(std::find(german.begin(), german.end(), Pair("Den Netzwerkdienst aktivieren?", "Enable the network service?")),
            german.end());
  std::ifstream stats(dir_ / "out" / "stats.tsv");
  std::string header;
  std::getline(stats, header);
  EXPECT_EQ(header, "code\ttrain\tdev\ttest\tduplicates\tdropped\tcatalogs");

  // A second run parses nothing again and gives the same files.
  const std::string first_train = [&] {
    std::ostringstream s;
    s << std::ifstream(dir_ / "out" / "train" / "de.tsv").rdbuf();
    return s.str();
  }();
  const CorpusBuildReport again = build_corpus(options("app-l10n\ntool-data\n"), [](const std::string&) {});
  EXPECT_EQ(again.from_cache, 2u);
  EXPECT_EQ(again.extracted, 0u);
  std::ostringstream second_train;
  second_train << std::ifstream(dir_ / "out" / "train" / "de.tsv").rdbuf();
  EXPECT_EQ(second_train.str(), first_train);
  const std::string table = format_stats_table(again);
  EXPECT_NE(table.find("3 languages"), std::string::npos);
}

TEST_F(CorpusBuilderTest, AnUnreadableDebIsReportedAndSkipped) {
  std::ofstream(dir_ / "cache" / "debs" / "broken_1.0_all.deb") << "this is not an ar archive";
  ASSERT_FALSE(testing::build_fake_deb(dir_ / "cache" / "debs", "good",
                                       {{"usr/share/locale/fr/LC_MESSAGES/x.mo", french_catalog_big_endian()}})
                   .empty());
  const CorpusBuildReport report = build_corpus(options("broken\ngood\n"), [](const std::string&) {});
  EXPECT_EQ(report.extract_failed, 1u);
  ASSERT_EQ(report.languages.size(), 1u);
  EXPECT_EQ(report.languages[0].code, "fr");
}

TEST_F(CorpusBuilderTest, ARebuildDropsGoneLanguagesOnlyOnceItIsComplete) {
  ASSERT_FALSE(testing::build_fake_deb(dir_ / "cache" / "debs", "de-l10n",
                                       {{"usr/share/locale/de/LC_MESSAGES/app.mo", german_catalog()}})
                   .empty());
  ASSERT_FALSE(testing::build_fake_deb(dir_ / "cache" / "debs", "fr-l10n",
                                       {{"usr/share/locale/fr/LC_MESSAGES/app.mo", french_catalog_big_endian()}})
                   .empty());
  const auto nothing = [](const std::string&) {};
  ASSERT_EQ(build_corpus(options("de-l10n\nfr-l10n\n"), nothing).languages.size(), 2u);
  std::ofstream(dir_ / "out" / "train" / "README") << "kept";
  ASSERT_EQ(build_corpus(options("fr-l10n\n"), nothing).languages.size(), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "train" / "de.tsv"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "train" / "fr.tsv"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "train" / "README"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / ".corpus-partial"));

  // A build that fails (its only package is not cached) leaves OUT as it was.
  const auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out")) names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> before = listing();
  try {
    build_corpus(options("not-cached\n"), nothing);
    FAIL() << "an empty corpus replaced the earlier one";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), (dir_ / "list.txt").string());
  }
  EXPECT_EQ(listing(), before);
  // So does a cached parse that turned out malformed (a bad count, not only a bad line).
  for (const auto& entry : fs::directory_iterator(dir_ / "cache" / "parsed")) std::ofstream(entry.path()) << "S\tx\t0\n";
  EXPECT_THROW(build_corpus(options("fr-l10n\n"), nothing), FileError);
  EXPECT_EQ(listing(), before);
}

TEST_F(CorpusBuilderTest, PackageListErrorsNameFileAndLine) {
  std::ofstream(dir_ / "bad.txt") << "good-name\nBad_Name\n";
  try {
    read_package_list((dir_ / "bad.txt").string());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.line(), 2);
  }
  std::ofstream(dir_ / "empty.txt") << "# nothing\n";
  EXPECT_THROW(read_package_list((dir_ / "empty.txt").string()), FileError);
  EXPECT_THROW(read_package_list((dir_ / "none.txt").string()), FileError);
}

TEST(TarStream, ReadsLongNamesAndSkipsUnwantedMembers) {
  // A GNU tar with a long-name ('L') member and a plain one, built in memory.
  auto header = [](const std::string& name, std::size_t size, char type) {
    std::string h(512, '\0');
    name.copy(h.data(), std::min<std::size_t>(name.size(), 99));
    char octal[12];
    std::snprintf(octal, sizeof octal, "%011zo", size);
    std::copy(octal, octal + 11, h.begin() + 124);
    h[156] = type;
    return h;
  };
  auto padded = [](std::string data) {
    data.resize((data.size() + 511) / 512 * 512, '\0');
    return data;
  };
  const std::string long_name = "./usr/share/locale/" + std::string(120, 'x') + "/LC_MESSAGES/app.mo";
  std::string tar = header("././@LongLink", long_name.size() + 1, 'L') + padded(long_name + '\0') +
                    header("ignored", 5, '0') + padded("hello") + header("./skip.txt", 700, '0') +
                    padded(std::string(700, 's')) + header("./keep.mo", 3, '0') + padded("abc") + std::string(1024, '\0');
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
  close(fds[1]);
  std::vector<std::pair<std::string, std::string>> files;
  for_each_tar_file(
      fds[0], "test.tar", [](const std::string& path) { return path.size() > 3 && path.substr(path.size() - 3) == ".mo"; },
      [&](const std::string& path, std::string&& bytes) { files.emplace_back(path, bytes); });
  close(fds[0]);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].first, long_name);
  EXPECT_EQ(files[0].second, "hello");
  EXPECT_EQ(files[1].first, "./keep.mo");
  EXPECT_EQ(files[1].second, "abc");
}

}  // namespace
}  // namespace moe::data
