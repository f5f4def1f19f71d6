#include "data/corpus_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::data {
namespace fs = std::filesystem;

namespace {
std::size_t count_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  std::size_t lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}
}  // namespace

std::vector<CorpusLanguage> list_corpus_languages(const std::string& dir) {
  const fs::path train_dir = fs::path(dir) / "train";
  if (!fs::is_directory(train_dir)) throw FileError(dir, 0, "not a corpus directory (no train/ folder)");
  std::vector<CorpusLanguage> languages;
  for (const auto& entry : fs::directory_iterator(train_dir)) {
    if (entry.path().extension() != ".tsv") continue;
    CorpusLanguage language;
    language.code = entry.path().stem().string();
    language.train = count_lines(entry.path());
    language.dev = count_lines(fs::path(dir) / "dev" / entry.path().filename());
    language.test = count_lines(fs::path(dir) / "test" / entry.path().filename());
    languages.push_back(std::move(language));
  }
  std::sort(languages.begin(), languages.end(),
            [](const CorpusLanguage& a, const CorpusLanguage& b) { return a.code < b.code; });
  return languages;
}

std::vector<Pair> read_corpus_pairs(const std::string& dir, Split split, const std::string& code) {
  const fs::path path = fs::path(dir) / std::string(split_name(split)) / (code + ".tsv");
  std::vector<Pair> pairs;
  std::ifstream in(path, std::ios::binary);
  if (!in) return pairs;
  std::string line;
  long line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos)
      throw FileError(path.string(), line_number, "expected 'source<TAB>english'");
    if (!utf8::is_valid(line)) throw FileError(path.string(), line_number, "invalid UTF-8");
    pairs.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return pairs;
}

std::vector<double> temperature_weights(const std::vector<std::size_t>& counts, double temperature) {
  if (!(temperature > 0)) throw InputError("sampling temperature must be > 0, got " + std::to_string(temperature));
  // n^(1/T) overflows a double for small T (270^(1/0.001)); (n / n_max)^(1/T)
  // gives the same proportions and stays in (0, 1].
  std::vector<double> weights(counts.size(), 0.0);
  const double n_max = static_cast<double>(counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end()));
  double total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    weights[i] = counts[i] == 0 ? 0.0 : std::exp(std::log(static_cast<double>(counts[i]) / n_max) / temperature);
    total += weights[i];
  }
  if (total > 0)
    for (double& w : weights) w /= total;
  return weights;
}

}  // namespace moe::data
