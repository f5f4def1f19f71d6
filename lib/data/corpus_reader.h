#pragma once
// Reading a corpus directory written by build_corpus (OUT/{train,dev,test}/
// <code>.tsv, "source<TAB>english" a line), and GShard's temperature sampling
// of languages, for the vocabulary trainer and the model's data loader.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "data/corpus_split.h"

namespace moe::data {

struct CorpusLanguage {
  std::string code;
  std::size_t train = 0, dev = 0, test = 0;  // pairs per split (lines of each file)
};

// Languages of the corpus (those with a train file), sorted by code. Throws
// FileError if `dir` has no train/ folder.
std::vector<CorpusLanguage> list_corpus_languages(const std::string& dir);

using Pair = std::pair<std::string, std::string>;  // (source, english)

// All pairs of one language and split; empty if the file does not exist.
// Throws FileError("FILE:LINE: ...") on a line without exactly one tab.
std::vector<Pair> read_corpus_pairs(const std::string& dir, Split split, const std::string& code);

// GShard's temperature sampling: p_l proportional to n_l^(1/T), T >= 1
// (T = 1: proportional to data, T -> infinity: uniform). counts[l] = n_l;
// returns p (sums to 1; 0 for empty languages).
std::vector<double> temperature_weights(const std::vector<std::size_t>& counts, double temperature);

}  // namespace moe::data
