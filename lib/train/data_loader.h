#pragma once
// The training data pipeline: a corpus split encoded once with the recipe's
// SentencePiece model (and cached on disk), languages sampled with GShard's
// temperature, sentences length-bucketed into batches under a token budget,
// prepared ahead by a background thread.
//
// Determinism and exact resume: batches come in pools; pool k is a pure
// function of (seed, k): Rng(seed, "data.pool", k) draws its sentences
// (language by temperature weight, then a sentence uniformly within it),
// sorts them by length, cuts them into batches and shuffles the batch order.
// A data position is therefore just (pool, batch within pool), which the
// trainer stores in its checkpoint.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/recipe.h"
#include "data/corpus_split.h"
#include "data/vocab.h"
#include "model/transformer.h"

namespace moe::train {

// The pairs of a corpus split that encoding leaves out, by reason. A pair
// with an empty side counts as empty whatever its other side's length.
struct DroppedPairs {
  std::uint64_t too_long = 0;  // a side over EncodeOptions::max_len tokens (eos and <2en> included)
  std::uint64_t empty = 0;     // a side that encodes to no piece (empty or only whitespace)
  std::uint64_t total() const { return too_long + empty; }
  DroppedPairs& operator+=(const DroppedPairs& o) {
    too_long += o.too_long;
    empty += o.empty;
    return *this;
  }
  bool operator==(const DroppedPairs&) const = default;
};

// One language's pairs as token ids, flattened: sentence i's source is
// src_ids[src_off[i] .. src_off[i+1]) (eos included; the <2en> tag first
// when the recipe asks for it), its target likewise (eos included).
struct EncodedLanguage {
  std::string code;
  std::vector<std::int32_t> src_ids, tgt_ids;
  std::vector<std::uint32_t> src_off{0}, tgt_off{0};
  std::vector<std::uint32_t> line;  // [size()] 0-based line of each kept pair in its corpus file
  DroppedPairs dropped;             // the pairs of its corpus file that were left out
  std::size_t size() const { return src_off.size() - 1; }
  std::int64_t src_len(std::size_t i) const { return src_off[i + 1] - src_off[i]; }
  std::int64_t tgt_len(std::size_t i) const { return tgt_off[i + 1] - tgt_off[i]; }
};

struct EncodeOptions {
  int max_len = 256;             // pairs longer than this on either side are skipped
  bool target_lang_tag = false;  // prepend <2en> to the source
  std::string cache_dir;         // "" = no cache; else <dir>/<split>.<lang>.<vocab-id>.ids
  int threads = 0;               // 0 = OpenMP's default
};

// Encodes `langs` (all languages of the corpus when empty) of one split.
// Languages with no pairs in that split are left out. `dropped`, when given,
// receives the pairs dropped over all languages, those left out included (the
// cache keeps the counts, so a cached start reports the same). Throws FileError
// for unreadable corpus files and InputError for a language the corpus lacks.
std::vector<EncodedLanguage> encode_corpus(const std::string& corpus_dir, data::Split split,
                                           const std::vector<std::string>& langs,
                                           const data::Vocab& vocab, const EncodeOptions& options,
                                           DroppedPairs* dropped = nullptr);

struct SentenceRef {
  std::uint32_t lang = 0, index = 0;
};

struct DataPosition {
  std::int64_t pool = 0, batch = 0;  // the next batch to deliver
  bool operator==(const DataPosition&) const = default;
};

// A batch of the global stream, before it is split over data-parallel ranks.
struct GlobalBatch {
  DataPosition position;               // where this batch sits in the stream
  std::vector<SentenceRef> sentences;  // sorted by length
  std::int64_t tgt_tokens = 0;         // real target tokens (eos included)
};

class BatchSampler {
 public:
  // `weights`: sampling probability per language (sums to 1). A pool's last
  // batch (what is left after the full ones are cut, so it may be a single
  // sentence) is skipped when it holds fewer than `min_sentences`: a batch is
  // shared sentence by sentence over the data-parallel ranks, and every rank
  // needs one. Every other batch, and their order, stay as with 1, so the
  // stream of a mesh is that of one process minus those short batches.
  BatchSampler(const std::vector<EncodedLanguage>& langs, std::vector<double> weights,
               std::uint64_t seed, std::int64_t batch_tokens, std::int64_t pool_batches,
               DataPosition start = {}, std::int64_t min_sentences = 1);
  GlobalBatch next();
  DataPosition position() const { return pos_; }

 private:
  void fill_pool(std::int64_t pool);
  const std::vector<EncodedLanguage>& langs_;
  std::vector<double> cumulative_;
  std::uint64_t seed_;
  std::int64_t batch_tokens_, pool_batches_, min_sentences_;
  DataPosition pos_;
  std::int64_t filled_pool_ = -1;
  std::vector<GlobalBatch> pool_;
};

// The longest pair of `langs` in padded tokens, max(source, target): a batch
// of n sentences takes at most n times this many of train.batch_tokens.
std::int64_t longest_padded_len(const std::vector<EncodedLanguage>& langs);

// The model batch of data rank `rank` of `ranks`: sentences i with
// i % ranks == rank of the (length-sorted) global batch, padded.
Batch make_batch(const std::vector<EncodedLanguage>& langs, const std::vector<SentenceRef>& sentences,
                 int rank = 0, int ranks = 1);

// Fixed evaluation batches over the first `max_per_lang` sentences of each
// language, each batch of one language only (so losses split by language),
// length-sorted, under `batch_tokens`.
std::vector<std::vector<SentenceRef>> evaluation_batches(const std::vector<EncodedLanguage>& langs,
                                                        std::int64_t batch_tokens,
                                                        std::int64_t max_per_lang);

// Runs a BatchSampler on a background thread, `capacity` batches ahead.
class Prefetcher {
 public:
  Prefetcher(BatchSampler sampler, std::size_t capacity);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  // The next batch, in stream order. Blocks while the thread prepares it.
  GlobalBatch pop();
  // Seconds pop() spent waiting so far (the trainer reports data stalls).
  double waited_seconds() const { return waited_; }

 private:
  void run();
  BatchSampler sampler_;
  std::size_t capacity_;
  std::deque<GlobalBatch> queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  double waited_ = 0;
  std::thread thread_;
};

}  // namespace moe::train
