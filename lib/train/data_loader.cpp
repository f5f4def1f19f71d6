#include "train/data_loader.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "data/corpus_reader.h"
#include "util/atomic_file.h"
#include "util/crc32.h"
#include "util/error.h"
#include "util/rng.h"

namespace moe::train {
namespace fs = std::filesystem;

namespace {

// The format version is the magic's last digit: a cache of another layout
// (version 2 had no dropped-pair counts) fails the check and is re-encoded.
constexpr char kCacheMagic[8] = {'M', 'O', 'E', 'I', 'D', 'S', '3', '\0'};

// What a cached encoding depends on besides the vocabulary: the corpus file
// and the encoding options. The file is known by its size, modification and
// status-change times (ns) and inode: an edit that keeps the size and puts the
// old mtime back (touch -d, rsync -t) still moves the ctime, which no user can
// set. One stat(), where hashing the contents would read the whole corpus
// (~1 s a GB) at every start. A copied or restored corpus re-encodes once.
std::string cache_key(const std::string& corpus_file, const EncodeOptions& o) {
  struct stat st {};
  if (::stat(corpus_file.c_str(), &st) != 0) return "";  // read_corpus_pairs names the failure
  std::ostringstream k;
  k << st.st_size << ":" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec << ":" << st.st_ctim.tv_sec << "."
    << st.st_ctim.tv_nsec << ":" << st.st_ino << ":" << o.max_len << ":" << o.target_lang_tag;
  return k.str();
}

template <typename T>
void write_vec(std::ostream& out, const std::vector<T>& v) {
  const std::uint64_t n = v.size();
  out.write(reinterpret_cast<const char*>(&n), sizeof n);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

template <typename T>
bool read_vec(std::istream& in, std::vector<T>& v) {
  std::uint64_t n = 0;
  if (!in.read(reinterpret_cast<char*>(&n), sizeof n) || n > (1ull << 34)) return false;
  v.resize(n);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T))));
}

// Whether a cache's content could have come from encode_language with these
// options: offsets that start at 0 and step by 1..max_len tokens, ids inside
// the vocabulary, corpus lines increasing. Anything else (a flipped bit, a
// truncated or hand-made file) would index outside the id arrays later.
bool plausible_encoding(const EncodedLanguage& e, const EncodeOptions& o, int vocab_size) {
  if (e.src_off.empty() || e.src_off.size() != e.tgt_off.size() || e.line.size() + 1 != e.src_off.size() ||
      e.src_off.front() != 0 || e.tgt_off.front() != 0 || e.src_off.back() != e.src_ids.size() ||
      e.tgt_off.back() != e.tgt_ids.size())
    return false;
  const std::int64_t max_len = o.max_len;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e.src_off[i + 1] <= e.src_off[i] || e.tgt_off[i + 1] <= e.tgt_off[i]) return false;
    if (e.src_len(i) > max_len || e.tgt_len(i) > max_len) return false;
    if (i > 0 && e.line[i] <= e.line[i - 1]) return false;
  }
  // Every line of the file was kept or dropped, so no kept line is past their count.
  if (e.size() > 0 && e.line.back() >= e.size() + e.dropped.total()) return false;
  const auto in_vocab = [&](std::int32_t id) { return id >= 0 && id < vocab_size; };
  return std::all_of(e.src_ids.begin(), e.src_ids.end(), in_vocab) &&
         std::all_of(e.tgt_ids.begin(), e.tgt_ids.end(), in_vocab);
}

bool load_cache(const std::string& path, const std::string& key, const EncodeOptions& o, int vocab_size,
                EncodedLanguage& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[8];
  std::uint64_t key_len = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kCacheMagic, 8) != 0) return false;
  if (!in.read(reinterpret_cast<char*>(&key_len), sizeof key_len) || key_len > 4096) return false;
  std::string stored(key_len, '\0');
  if (!in.read(stored.data(), static_cast<std::streamsize>(key_len)) || stored != key) return false;
  EncodedLanguage e;
  e.code = out.code;
  if (!in.read(reinterpret_cast<char*>(&e.dropped.too_long), sizeof e.dropped.too_long) ||
      !in.read(reinterpret_cast<char*>(&e.dropped.empty), sizeof e.dropped.empty))
    return false;
  if (!read_vec(in, e.src_ids) || !read_vec(in, e.tgt_ids) || !read_vec(in, e.src_off) ||
      !read_vec(in, e.tgt_off) || !read_vec(in, e.line))
    return false;
  // A damaged cache is re-encoded, never trusted.
  if (!plausible_encoding(e, o, vocab_size)) return false;
  out = std::move(e);
  return true;
}

void save_cache(const std::string& path, const std::string& key, const EncodedLanguage& e) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kCacheMagic, 8);
    const std::uint64_t key_len = key.size();
    out.write(reinterpret_cast<const char*>(&key_len), sizeof key_len);
    out.write(key.data(), static_cast<std::streamsize>(key.size()));
    out.write(reinterpret_cast<const char*>(&e.dropped.too_long), sizeof e.dropped.too_long);
    out.write(reinterpret_cast<const char*>(&e.dropped.empty), sizeof e.dropped.empty);
    write_vec(out, e.src_ids);
    write_vec(out, e.tgt_ids);
    write_vec(out, e.src_off);
    write_vec(out, e.tgt_off);
    write_vec(out, e.line);
  });
}

EncodedLanguage encode_language(const std::vector<data::Pair>& pairs, const std::string& code,
                                const data::Vocab& vocab, const EncodeOptions& o) {
  std::int32_t tag = -1;
  if (o.target_lang_tag) {
    tag = vocab.piece_to_id("<2en>");
    if (tag == data::Vocab::kUnkId)
      throw InputError("data.target_lang_tag: the vocabulary has no '<2en>' piece (train it with "
                       "moe-tokenize train, which adds language tags)");
  }
  std::vector<std::vector<int>> src(pairs.size()), tgt(pairs.size());
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    src[i] = vocab.encode_ids(pairs[i].first);
    tgt[i] = vocab.encode_ids(pairs[i].second);
  }
  const auto is_empty = [&](std::size_t i) { return src[i].empty() || tgt[i].empty(); };
  const auto is_too_long = [&](std::size_t i) {
    const std::size_t src_len = src[i].size() + 1 + (tag >= 0), tgt_len = tgt[i].size() + 1;
    return src_len > static_cast<std::size_t>(o.max_len) || tgt_len > static_cast<std::size_t>(o.max_len);
  };
  const auto kept = [&](std::size_t i) { return !is_empty(i) && !is_too_long(i); };
  EncodedLanguage e;
  e.code = code;
  // Sized exactly: the encoded corpus stays in memory for the whole run, and
  // vectors grown by doubling would hold up to twice what they use.
  std::size_t n = 0, src_total = 0, tgt_total = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i)
    if (is_empty(i)) {
      ++e.dropped.empty;
    } else if (is_too_long(i)) {
      ++e.dropped.too_long;
    } else {
      ++n;
      src_total += src[i].size() + 1 + (tag >= 0);
      tgt_total += tgt[i].size() + 1;
    }
  e.src_ids.reserve(src_total);
  e.tgt_ids.reserve(tgt_total);
  e.src_off.reserve(e.src_off.size() + n);
  e.tgt_off.reserve(e.tgt_off.size() + n);
  e.line.reserve(n);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (!kept(i)) continue;
    if (tag >= 0) e.src_ids.push_back(tag);
    e.src_ids.insert(e.src_ids.end(), src[i].begin(), src[i].end());
    e.src_ids.push_back(data::Vocab::kEosId);
    e.tgt_ids.insert(e.tgt_ids.end(), tgt[i].begin(), tgt[i].end());
    e.tgt_ids.push_back(data::Vocab::kEosId);
    e.src_off.push_back(static_cast<std::uint32_t>(e.src_ids.size()));
    e.tgt_off.push_back(static_cast<std::uint32_t>(e.tgt_ids.size()));
    e.line.push_back(static_cast<std::uint32_t>(i));
  }
  return e;
}

std::int64_t padded_len(const EncodedLanguage& l, std::size_t i) {
  return std::max(l.src_len(i), l.tgt_len(i));
}

}  // namespace

std::vector<EncodedLanguage> encode_corpus(const std::string& corpus_dir, data::Split split,
                                           const std::vector<std::string>& langs,
                                           const data::Vocab& vocab, const EncodeOptions& options,
                                           DroppedPairs* dropped) {
  if (dropped) *dropped = {};
  std::vector<std::string> codes = langs;
  const auto available = data::list_corpus_languages(corpus_dir);
  if (codes.empty()) {
    for (const auto& l : available) codes.push_back(l.code);
  } else {
    for (const auto& c : codes) {
      const bool found = std::any_of(available.begin(), available.end(),
                                     [&](const data::CorpusLanguage& l) { return l.code == c; });
      if (!found) throw InputError("data.langs: the corpus in " + corpus_dir + " has no language '" + c + "'");
    }
  }
  std::string vocab_id;
  if (!options.cache_dir.empty()) {
    fs::create_directories(options.cache_dir);
    // The vocabulary's identity: its pieces, serialised as ids of a probe.
    std::uint32_t h = 0;
    for (int i = 0; i < vocab.size(); ++i) {
      const std::string& p = vocab.id_to_piece(i);
      h = crc32(p.data(), p.size(), h);
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", h);
    vocab_id = buf;
  }
  std::vector<EncodedLanguage> out;
  for (const auto& code : codes) {
    const std::string file = (fs::path(corpus_dir) / std::string(data::split_name(split)) / (code + ".tsv")).string();
    if (!fs::exists(file)) continue;
    EncodedLanguage e;
    e.code = code;
    std::string cache, key;
    if (!options.cache_dir.empty()) {
      cache = (fs::path(options.cache_dir) /
               (std::string(data::split_name(split)) + "." + code + "." + vocab_id + ".ids"))
                  .string();
      key = cache_key(file, options);
      if (!key.empty() && load_cache(cache, key, options, vocab.size(), e)) {
        if (dropped) *dropped += e.dropped;
        if (e.size() > 0) out.push_back(std::move(e));
        continue;
      }
    }
    e = encode_language(data::read_corpus_pairs(corpus_dir, split, code), code, vocab, options);
    if (!cache.empty() && !key.empty()) save_cache(cache, key, e);
    if (dropped) *dropped += e.dropped;
    if (e.size() > 0) out.push_back(std::move(e));
  }
  return out;
}

BatchSampler::BatchSampler(const std::vector<EncodedLanguage>& langs, std::vector<double> weights,
                           std::uint64_t seed, std::int64_t batch_tokens,
                           std::int64_t pool_batches, DataPosition start, std::int64_t min_sentences)
    : langs_(langs),
      seed_(seed),
      batch_tokens_(batch_tokens),
      pool_batches_(pool_batches),
      min_sentences_(min_sentences),
      pos_(start) {
  MOE_CHECK(weights.size() == langs.size(), "one sampling weight per language");
  double total = 0;
  for (std::size_t l = 0; l < langs.size(); ++l) {
    if (langs[l].size() == 0) weights[l] = 0;
    total += weights[l];
    cumulative_.push_back(total);
  }
  if (total <= 0) throw InputError("data: no training pairs to sample from");
  for (double& c : cumulative_) c /= total;
}

void BatchSampler::fill_pool(std::int64_t pool) {
  Rng rng(seed_, "data.pool", static_cast<std::uint64_t>(pool));
  std::vector<SentenceRef> drawn;
  const std::int64_t budget = pool_batches_ * batch_tokens_;
  std::int64_t tokens = 0;
  while (tokens < budget) {
    const double u = rng.uniform_double();
    std::uint32_t l = static_cast<std::uint32_t>(
        std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
    l = std::min<std::uint32_t>(l, static_cast<std::uint32_t>(langs_.size() - 1));
    while (langs_[l].size() == 0) l = (l + 1) % langs_.size();  // rounding at the top end
    const auto i = static_cast<std::uint32_t>(rng.below(langs_[l].size()));
    drawn.push_back({l, i});
    tokens += padded_len(langs_[l], i);
  }
  std::stable_sort(drawn.begin(), drawn.end(), [&](const SentenceRef& a, const SentenceRef& b) {
    return padded_len(langs_[a.lang], a.index) < padded_len(langs_[b.lang], b.index);
  });
  pool_.clear();
  GlobalBatch cur;
  std::int64_t longest = 0;
  for (const auto& s : drawn) {
    const std::int64_t len = padded_len(langs_[s.lang], s.index);
    const std::int64_t n = static_cast<std::int64_t>(cur.sentences.size());
    if (n > 0 && (n + 1) * std::max(longest, len) > batch_tokens_) {
      pool_.push_back(std::move(cur));
      cur = GlobalBatch{};
      longest = 0;
    }
    cur.sentences.push_back(s);
    cur.tgt_tokens += langs_[s.lang].tgt_len(s.index);
    longest = std::max(longest, len);
  }
  // The last batch is marked (position.batch -1) rather than left out before
  // the shuffle, so that skipping it leaves the other batches in the order a
  // single process draws them.
  const bool short_last = static_cast<std::int64_t>(cur.sentences.size()) < min_sentences_ && !pool_.empty();
  if (!cur.sentences.empty()) pool_.push_back(std::move(cur));
  if (short_last) pool_.back().position.batch = -1;
  for (std::size_t i = pool_.size(); i > 1; --i) std::swap(pool_[i - 1], pool_[rng.below(i)]);
  if (short_last)
    pool_.erase(std::find_if(pool_.begin(), pool_.end(), [](const GlobalBatch& b) { return b.position.batch < 0; }));
  for (std::size_t i = 0; i < pool_.size(); ++i) pool_[i].position = {pool, static_cast<std::int64_t>(i)};
  filled_pool_ = pool;
}

GlobalBatch BatchSampler::next() {
  if (filled_pool_ != pos_.pool) fill_pool(pos_.pool);
  if (pos_.batch >= static_cast<std::int64_t>(pool_.size())) {
    pos_ = {pos_.pool + 1, 0};
    fill_pool(pos_.pool);
  }
  GlobalBatch b = pool_[pos_.batch];
  ++pos_.batch;
  if (pos_.batch >= static_cast<std::int64_t>(pool_.size())) pos_ = {pos_.pool + 1, 0};
  return b;
}

std::int64_t longest_padded_len(const std::vector<EncodedLanguage>& langs) {
  std::int64_t longest = 0;
  for (const EncodedLanguage& l : langs)
    for (std::size_t i = 0; i < l.size(); ++i) longest = std::max(longest, padded_len(l, i));
  return longest;
}

Batch make_batch(const std::vector<EncodedLanguage>& langs, const std::vector<SentenceRef>& sentences,
                 int rank, int ranks) {
  std::vector<SentenceRef> mine;
  for (std::size_t i = rank; i < sentences.size(); i += ranks) mine.push_back(sentences[i]);
  Batch b;
  b.batch = static_cast<std::int64_t>(mine.size());
  for (const auto& s : mine) {
    b.src_len = std::max(b.src_len, langs[s.lang].src_len(s.index));
    b.tgt_len = std::max(b.tgt_len, langs[s.lang].tgt_len(s.index));
  }
  b.src.assign(b.batch * b.src_len, data::Vocab::kPadId);
  b.tgt_in.assign(b.batch * b.tgt_len, data::Vocab::kPadId);
  b.labels.assign(b.batch * b.tgt_len, data::Vocab::kPadId);
  for (std::int64_t r = 0; r < b.batch; ++r) {
    const EncodedLanguage& l = langs[mine[r].lang];
    const std::size_t i = mine[r].index;
    std::copy(l.src_ids.begin() + l.src_off[i], l.src_ids.begin() + l.src_off[i + 1],
              b.src.begin() + r * b.src_len);
    const std::int64_t T = l.tgt_len(i);
    const std::int32_t* y = l.tgt_ids.data() + l.tgt_off[i];
    b.tgt_in[r * b.tgt_len] = data::Vocab::kBosId;
    for (std::int64_t t = 0; t < T; ++t) {
      b.labels[r * b.tgt_len + t] = y[t];
      if (t + 1 < T) b.tgt_in[r * b.tgt_len + t + 1] = y[t];
    }
  }
  return b;
}

std::vector<std::vector<SentenceRef>> evaluation_batches(const std::vector<EncodedLanguage>& langs,
                                                        std::int64_t batch_tokens,
                                                        std::int64_t max_per_lang) {
  std::vector<std::vector<SentenceRef>> batches;
  for (std::uint32_t l = 0; l < langs.size(); ++l) {
    std::vector<SentenceRef> sentences;
    const std::size_t n = std::min<std::size_t>(langs[l].size(), static_cast<std::size_t>(max_per_lang));
    for (std::uint32_t i = 0; i < n; ++i) sentences.push_back({l, i});
    std::stable_sort(sentences.begin(), sentences.end(), [&](const SentenceRef& a, const SentenceRef& b) {
      return padded_len(langs[l], a.index) < padded_len(langs[l], b.index);
    });
    std::vector<SentenceRef> cur;
    std::int64_t longest = 0;
    for (const auto& s : sentences) {
      const std::int64_t len = padded_len(langs[l], s.index);
      if (!cur.empty() && static_cast<std::int64_t>(cur.size() + 1) * std::max(longest, len) > batch_tokens) {
        batches.push_back(std::move(cur));
        cur.clear();
        longest = 0;
      }
      cur.push_back(s);
      longest = std::max(longest, len);
    }
    if (!cur.empty()) batches.push_back(std::move(cur));
  }
  return batches;
}

Prefetcher::Prefetcher(BatchSampler sampler, std::size_t capacity)
    : sampler_(std::move(sampler)), capacity_(std::max<std::size_t>(1, capacity)) {
  thread_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Prefetcher::run() {
  for (;;) {
    GlobalBatch b = sampler_.next();
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return stop_ || queue_.size() < capacity_; });
    if (stop_) return;
    queue_.push_back(std::move(b));
    cv_.notify_all();
  }
}

GlobalBatch Prefetcher::pop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  GlobalBatch b = std::move(queue_.front());
  queue_.pop_front();
  cv_.notify_all();
  return b;
}

}  // namespace moe::train
