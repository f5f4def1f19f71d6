#include "data/corpus_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace moe::data {
namespace {
namespace fs = std::filesystem;

TEST(TemperatureSampling, ProportionsFollowCountsToTheOneOverT) {
  const std::vector<std::size_t> counts = {100000, 1000, 0, 10};
  const std::vector<double> t1 = temperature_weights(counts, 1.0);
  EXPECT_NEAR(t1[0], 100000.0 / 101010.0, 1e-12);
  EXPECT_EQ(t1[2], 0.0);
  const std::vector<double> t5 = temperature_weights(counts, 5.0);
  double sum = 0;
  for (double w : t5) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // p_0 / p_1 = (100000 / 1000)^(1/5) = 100^0.2
  EXPECT_NEAR(t5[0] / t5[1], std::pow(100.0, 0.2), 1e-9);
  EXPECT_NEAR(t5[1] / t5[3], std::pow(100.0, 0.2), 1e-9);
  // Very high temperature tends to uniform over the non-empty languages.
  const std::vector<double> hot = temperature_weights(counts, 1e6);
  EXPECT_NEAR(hot[0], 1.0 / 3, 1e-4);
  EXPECT_THROW(temperature_weights(counts, 0.0), InputError);
}

TEST(TemperatureSampling, ALowTemperatureDoesNotOverflow) {
  // n^(1/T) is inf for these; the proportions are still defined.
  EXPECT_EQ(temperature_weights({270, 270}, 1e-3), (std::vector<double>{0.5, 0.5}));
  const std::vector<double> cold = temperature_weights({1000000, 999999, 0, 10}, 1e-3);
  EXPECT_NEAR(cold[0] / cold[1], std::pow(1000000.0 / 999999.0, 1e3), 1e-9);
  EXPECT_NEAR(cold[0] + cold[1], 1.0, 1e-12);
  EXPECT_EQ(cold[2], 0.0);
  EXPECT_EQ(cold[3], 0.0);  // (1e-5)^1000 underflows to exactly nothing
}

TEST(CorpusReader, ListsLanguagesAndReadsPairs) {
  const fs::path dir = fs::temp_directory_path() / ("moe-corpus-reader-" + std::to_string(::getpid()));
  fs::create_directories(dir / "train");
  fs::create_directories(dir / "test");
  std::ofstream(dir / "train" / "de.tsv") << "Hallo\tHello\nTschüss\tBye\n";
  std::ofstream(dir / "train" / "fr.tsv") << "Bonjour\tHello\n";
  std::ofstream(dir / "test" / "de.tsv") << "Danke schön\tThank you\n";
  std::ofstream(dir / "train" / "xx.tsv") << "good\tline\nno tab here\n";
  const std::vector<CorpusLanguage> languages = list_corpus_languages(dir.string());
  ASSERT_EQ(languages.size(), 3u);
  EXPECT_EQ(languages[0].code, "de");
  EXPECT_EQ(languages[0].train, 2u);
  EXPECT_EQ(languages[0].test, 1u);
  EXPECT_EQ(languages[0].dev, 0u);
  const std::vector<Pair> pairs = read_corpus_pairs(dir.string(), Split::kTrain, "de");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1], Pair("Tschüss", "Bye"));
  EXPECT_TRUE(read_corpus_pairs(dir.string(), Split::kDev, "de").empty());
  try {
    read_corpus_pairs(dir.string(), Split::kTrain, "xx");
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.line(), 2);
  }
  EXPECT_THROW(list_corpus_languages((dir / "train").string()), FileError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moe::data
