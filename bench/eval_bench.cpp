// Throughput of corpus BLEU, chrF, chrF++ and TER on synthetic, seeded data:
// references are random sentences over a Zipf-like vocabulary, hypotheses are
// the references with word substitutions, deletions and local swaps.
// Usage: bench_eval [sentences (default 100000)] [TER sentences (default 10000)]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/ter.h"
#include "util/rng.h"

namespace {

struct Corpus {
  std::vector<std::string> hypotheses;
  std::vector<std::vector<std::string>> references;  // one stream
};

std::vector<std::string> make_vocabulary(moe::Rng& rng, int size) {
  static const char* kLetters = "etaoinshrdlcumwfgypbvkjxqz";
  std::vector<std::string> words;
  for (int i = 0; i < size; ++i) {
    std::string w;
    const int length = 2 + static_cast<int>(rng.below(8));
    for (int k = 0; k < length; ++k) w += kLetters[rng.below(26) % (k == 0 ? 26 : 12)];
    words.push_back(w);
  }
  return words;
}

// Zipf-like draw: small ids are much more frequent.
std::size_t zipf_index(moe::Rng& rng, std::size_t size) {
  const double u = rng.uniform_double();
  return static_cast<std::size_t>(std::pow(static_cast<double>(size), u)) - 1;
}

Corpus make_corpus(std::size_t sentences, std::uint64_t seed) {
  moe::Rng rng(seed, "eval-bench");
  const std::vector<std::string> vocab = make_vocabulary(rng, 20000);
  Corpus corpus;
  corpus.references.emplace_back();
  for (std::size_t s = 0; s < sentences; ++s) {
    std::vector<std::string> ref;
    const int length = 10 + static_cast<int>(rng.below(26));
    for (int i = 0; i < length; ++i) ref.push_back(vocab[zipf_index(rng, vocab.size())]);
    std::vector<std::string> hyp;
    for (const std::string& w : ref) {
      const double u = rng.uniform_double();
      if (u < 0.10) hyp.push_back(vocab[zipf_index(rng, vocab.size())]);  // substitution
      else if (u < 0.15) continue;                                            // deletion
      else hyp.push_back(w);
      if (hyp.size() >= 2 && rng.uniform_double() < 0.05) std::swap(hyp[hyp.size() - 1], hyp[hyp.size() - 2]);
    }
    auto join = [](const std::vector<std::string>& words) {
      std::string line;
      for (const std::string& w : words) line += (line.empty() ? "" : " ") + w;
      return line + ".";
    };
    corpus.hypotheses.push_back(join(hyp));
    corpus.references[0].push_back(join(ref));
  }
  return corpus;
}

void time_metric(const char* name, std::size_t sentences, const std::function<double()>& run) {
  const auto start = std::chrono::steady_clock::now();
  const double score = run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-8s %10zu %9.3f %12.0f %8.2f\n", name, sentences, seconds,
              static_cast<double>(sentences) / seconds, score);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t sentences = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t ter_sentences = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000;
  const Corpus corpus = make_corpus(sentences, 2024);
  Corpus ter_corpus = corpus;
  ter_corpus.hypotheses.resize(std::min(ter_sentences, sentences));
  ter_corpus.references[0].resize(ter_corpus.hypotheses.size());

  std::printf("%-8s %10s %9s %12s %8s\n", "metric", "sentences", "seconds", "sentences/s", "score");
  time_metric("BLEU", sentences, [&] { return moe::eval::corpus_bleu(corpus.hypotheses, corpus.references).score; });
  time_metric("chrF2", sentences, [&] { return moe::eval::corpus_chrf(corpus.hypotheses, corpus.references); });
  time_metric("chrF2++", sentences, [&] {
    return moe::eval::corpus_chrf(corpus.hypotheses, corpus.references, {.word_order = 2});
  });
  time_metric("TER", ter_corpus.hypotheses.size(),
              [&] { return moe::eval::corpus_ter(ter_corpus.hypotheses, ter_corpus.references); });
  return 0;
}
