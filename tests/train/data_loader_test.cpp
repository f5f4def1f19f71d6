#include "train/data_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "data/corpus_reader.h"
#include "data/vocab_training.h"

namespace moe::train {
namespace {
namespace fs = std::filesystem;

// A small two-language corpus and a SentencePiece model trained on it, shared
// by the tests of this file (training the model takes a moment).
class DataLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((fs::temp_directory_path() / ("moe-data-loader-" + std::to_string(::getpid()))).string());
    const std::vector<std::string> words = {"house", "green", "tree", "small", "river", "open",
                                            "file",  "save",  "print", "window", "close", "the"};
    for (const char* split : {"train", "dev"}) fs::create_directories(*dir_ + "/" + split);
    std::ofstream de(*dir_ + "/train/de.tsv"), sw(*dir_ + "/train/sw.tsv"), dev(*dir_ + "/dev/de.tsv");
    for (int i = 0; i < 400; ++i) {
      std::string en, src;
      for (int k = 0; k <= i % 7; ++k) {
        en += (k ? " " : "") + words[(i * 7 + k * 3) % words.size()];
        src += (k ? " " : "") + std::string("wort") + std::to_string((i + k) % 13);
      }
      de << src << "\t" << en << "\n";
      if (i % 4 == 0) sw << "neno" << i % 9 << " " << src << "\t" << en << "\n";
      if (i < 30) dev << src << "\t" << en << "\n";
    }
    de.close(), sw.close(), dev.close();
    data::VocabTrainOptions o;
    o.vocab_size = 50;
    o.user_defined_symbols = {"<2en>"};
    o.sentences = 2000;
    data::train_vocab(data::sample_vocab_sentences(*dir_, data::VocabSide::kShared, o), o, *dir_ + "/spm");
    vocab_ = new data::Vocab(data::Vocab::load(*dir_ + "/spm.model"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete vocab_;
    delete dir_;
  }
  static std::string* dir_;
  static data::Vocab* vocab_;
};
std::string* DataLoaderTest::dir_ = nullptr;
data::Vocab* DataLoaderTest::vocab_ = nullptr;

std::vector<int> ids_of(const std::int32_t* p, std::int64_t n) { return std::vector<int>(p, p + n); }

TEST_F(DataLoaderTest, EncodesWithEosTagAndLengthFilter) {
  EncodeOptions o;
  o.target_lang_tag = true;
  o.max_len = 8;
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {"de"}, *vocab_, o);
  ASSERT_EQ(langs.size(), 1u);
  const auto pairs = data::read_corpus_pairs(*dir_, data::Split::kTrain, "de");
  EXPECT_LT(langs[0].size(), pairs.size());  // long pairs were filtered
  EXPECT_GT(langs[0].size(), 50u);
  const EncodedLanguage& l = langs[0];
  for (std::size_t i = 0; i < l.size(); ++i) {
    ASSERT_LE(l.src_len(i), 8);
    ASSERT_LE(l.tgt_len(i), 8);
    EXPECT_EQ(l.src_ids[l.src_off[i]], vocab_->piece_to_id("<2en>"));
    EXPECT_EQ(l.src_ids[l.src_off[i + 1] - 1], data::Vocab::kEosId);
    EXPECT_EQ(l.tgt_ids[l.tgt_off[i + 1] - 1], data::Vocab::kEosId);
  }
  // The first pair is short enough to survive; its target decodes back.
  EXPECT_EQ(vocab_->decode_ids(ids_of(l.tgt_ids.data(), l.tgt_len(0))), pairs[0].second);
}

TEST_F(DataLoaderTest, CacheGivesTheSameEncoding) {
  EncodeOptions o;
  o.cache_dir = *dir_ + "/cache";
  const auto first = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, o);
  ASSERT_EQ(first.size(), 2u);  // de and sw, sorted by code
  EXPECT_EQ(first[0].code, "de");
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(o.cache_dir)) files += e.path().extension() == ".ids";
  EXPECT_EQ(files, 2u);
  const auto second = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, o);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(second[l].src_ids, first[l].src_ids);
    EXPECT_EQ(second[l].tgt_off, first[l].tgt_off);
  }
  EXPECT_THROW(encode_corpus(*dir_, data::Split::kTrain, {"xx"}, *vocab_, o), InputError);
}

// A damaged cache file is re-encoded: offsets past the ids, ids outside the
// vocabulary or corpus lines past the file would index out of bounds later
// (a flipped high byte of an offset once crashed moe-train).
TEST_F(DataLoaderTest, ADamagedCacheIsReencodedNotTrusted) {
  EncodeOptions o;
  o.cache_dir = *dir_ + "/damaged-cache";
  const auto fresh = encode_corpus(*dir_, data::Split::kTrain, {"de"}, *vocab_, o);
  ASSERT_EQ(fresh.size(), 1u);
  const EncodedLanguage& de = fresh[0];
  ASSERT_GT(de.size(), 1u);
  std::string path;
  for (const auto& f : fs::directory_iterator(o.cache_dir)) path = f.path().string();
  std::string original;
  {
    std::ifstream in(path, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Layout: magic, key length, key, the two dropped counts, then each vector
  // as a count and its elements: src_ids, tgt_ids, src_off, tgt_off, line.
  std::uint64_t key_len = 0;
  std::memcpy(&key_len, original.data() + 8, 8);
  const std::size_t src_ids_at = 16 + key_len + 16 + 8;
  const std::size_t tgt_ids_at = src_ids_at + 4 * de.src_ids.size() + 8;
  const std::size_t src_off_at = tgt_ids_at + 4 * de.tgt_ids.size() + 8;
  const std::size_t tgt_off_at = src_off_at + 4 * de.src_off.size() + 8;
  const std::size_t line_at = tgt_off_at + 4 * de.tgt_off.size() + 8;
  ASSERT_EQ(line_at + 4 * de.line.size(), original.size());
  const auto put = [](std::string& bytes, std::size_t at, std::uint32_t value) { std::memcpy(&bytes[at], &value, 4); };
  struct Damage {
    const char* what;
    std::size_t at;
    std::uint32_t value;
  };
  const std::uint32_t v = static_cast<std::uint32_t>(vocab_->size());
  for (const Damage& d : {Damage{"an offset far past the ids", src_off_at + 4, de.src_off[1] | 0x40000000u},
                          Damage{"offsets that go back", tgt_off_at + 4, 0},
                          Damage{"a source id outside the vocabulary", src_ids_at, v},
                          Damage{"a negative target id", tgt_ids_at, 0xFFFFFFFFu},
                          Damage{"a line past the file", line_at + 4 * (de.line.size() - 1), 1u << 30}}) {
    std::string bytes = original;
    put(bytes, d.at, d.value);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    const auto again = encode_corpus(*dir_, data::Split::kTrain, {"de"}, *vocab_, o);
    ASSERT_EQ(again.size(), 1u) << d.what;
    EXPECT_EQ(again[0].src_ids, de.src_ids) << d.what;
    EXPECT_EQ(again[0].tgt_ids, de.tgt_ids) << d.what;
    EXPECT_EQ(again[0].src_off, de.src_off) << d.what;
    EXPECT_EQ(again[0].tgt_off, de.tgt_off) << d.what;
    EXPECT_EQ(again[0].line, de.line) << d.what;
  }
}

// An edit that keeps the file's size and puts its modification time back
// (touch -d, rsync -t) must not reuse the encoding of the old text.
TEST_F(DataLoaderTest, CacheNoticesAnEditThatKeepsSizeAndMtime) {
  const std::string corpus = *dir_ + "/edited";
  fs::create_directories(corpus + "/train");
  const std::string file = corpus + "/train/de.tsv";
  std::ofstream(file) << "wort1 wort2\thouse green\nwort3\ttree\n";
  EncodeOptions o;
  o.cache_dir = corpus + "/cache";
  const auto before = encode_corpus(corpus, data::Split::kTrain, {}, *vocab_, o);
  const auto mtime = fs::last_write_time(file);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // past the kernel's coarse clock tick
  std::ofstream(file) << "wort1 wort2\tgreen house\nwort3\ttree\n";  // same size
  fs::last_write_time(file, mtime);
  const auto after = encode_corpus(corpus, data::Split::kTrain, {}, *vocab_, o);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].tgt_ids, before[0].tgt_ids);
  EXPECT_EQ(after[0].tgt_ids, encode_corpus(corpus, data::Split::kTrain, {}, *vocab_, EncodeOptions{})[0].tgt_ids);
}

// fairseq says what its filters dropped: the counts, by reason, over all
// languages (one whose every pair is dropped included), and the same again
// from the cache, which a later start reads instead of encoding.
TEST_F(DataLoaderTest, CountsDroppedPairsByReasonAlsoFromTheCache) {
  const std::string corpus = *dir_ + "/dropping";
  fs::create_directories(corpus + "/train");
  const std::string long_text = "wort1 wort2 wort3 wort4 wort5 wort6 wort7 wort8 wort9 wort10";
  std::ofstream(corpus + "/train/de.tsv") << "wort1 wort2\thouse green\n"  // kept
                                          << "\thouse\n"                    // empty source
                                          << "wort1\t\n"                    // empty target
                                          << "   \ttree\n"                  // only whitespace
                                          << "\t" << long_text << "\n"      // empty wins over long
                                          << long_text << "\ttree\n"        // too long
                                          << "wort3\ttree\n";              // kept
  std::ofstream(corpus + "/train/sw.tsv") << "neno1\t" << long_text << "\n";  // nothing kept
  EncodeOptions o;
  o.max_len = 8;
  o.cache_dir = corpus + "/cache";
  const DroppedPairs expected{/*too_long=*/2, /*empty=*/4};
  DroppedPairs dropped{99, 99};
  const auto encoded = encode_corpus(corpus, data::Split::kTrain, {}, *vocab_, o, &dropped);
  ASSERT_EQ(encoded.size(), 1u);  // sw kept nothing
  EXPECT_EQ(encoded[0].size(), 2u);
  EXPECT_EQ(encoded[0].line, (std::vector<std::uint32_t>{0, 6}));
  EXPECT_EQ(dropped, expected);
  EXPECT_EQ(dropped.total(), 6u);
  // Back-dated, so a rewrite (an encoding rather than a cache read) shows.
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(24);
  std::size_t cache_files = 0;
  for (const auto& f : fs::directory_iterator(o.cache_dir)) fs::last_write_time(f.path(), long_ago), ++cache_files;
  EXPECT_EQ(cache_files, 2u);  // sw's counts are cached too
  DroppedPairs cached{99, 99};
  const auto from_cache = encode_corpus(corpus, data::Split::kTrain, {}, *vocab_, o, &cached);
  EXPECT_EQ(cached, expected);
  EXPECT_EQ(from_cache[0].dropped, (DroppedPairs{1, 4}));
  for (const auto& f : fs::directory_iterator(o.cache_dir)) EXPECT_EQ(fs::last_write_time(f.path()), long_ago);
}

TEST_F(DataLoaderTest, SamplerIsDeterministicAndResumable) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, EncodeOptions{});
  BatchSampler a(langs, {0.5, 0.5}, 3, 64, 4), b(langs, {0.5, 0.5}, 3, 64, 4);
  std::vector<GlobalBatch> seq;
  for (int i = 0; i < 30; ++i) {
    seq.push_back(a.next());
    const GlobalBatch other = b.next();
    ASSERT_EQ(seq.back().sentences.size(), other.sentences.size());
    for (std::size_t k = 0; k < other.sentences.size(); ++k)
      ASSERT_EQ(seq.back().sentences[k].index, other.sentences[k].index);
  }
  // A sampler started at batch 17's position continues exactly from there.
  BatchSampler resumed(langs, {0.5, 0.5}, 3, 64, 4, seq[17].position);
  for (int i = 17; i < 30; ++i) {
    const GlobalBatch r = resumed.next();
    EXPECT_EQ(r.position, seq[i].position);
    ASSERT_EQ(r.sentences.size(), seq[i].sentences.size());
    for (std::size_t k = 0; k < r.sentences.size(); ++k) EXPECT_EQ(r.sentences[k].index, seq[i].sentences[k].index);
  }
  BatchSampler other_seed(langs, {0.5, 0.5}, 4, 64, 4);
  bool differs = false;
  for (int i = 0; i < 5; ++i) differs |= other_seed.next().sentences.size() != seq[i].sentences.size();
  for (int i = 0; i < 5 && !differs; ++i) {
    const auto s = other_seed.next();
    differs |= s.sentences.empty() || s.sentences[0].index != seq[5 + i].sentences[0].index;
  }
  EXPECT_TRUE(differs);
}

TEST_F(DataLoaderTest, BatchesRespectTheTokenBudget) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, EncodeOptions{});
  BatchSampler s(langs, {0.5, 0.5}, 1, 100, 8);
  for (int i = 0; i < 50; ++i) {
    const GlobalBatch g = s.next();
    const Batch b = make_batch(langs, g.sentences);
    ASSERT_GT(b.batch, 0);
    EXPECT_TRUE(b.batch == 1 || b.batch * std::max(b.src_len, b.tgt_len) <= 100)
        << b.batch << " x " << b.src_len << "/" << b.tgt_len;
  }
}

// With room for two of the longest pairs, only a pool's leftover last batch can
// hold a single sentence; a sampler for two data ranks skips exactly those
// and keeps the rest of the stream in order.
TEST_F(DataLoaderTest, ASamplerForDataRanksSkipsAPoolsShortLastBatch) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, EncodeOptions{});
  std::int64_t longest = 0;
  for (const auto& l : langs)
    for (std::size_t i = 0; i < l.size(); ++i) longest = std::max({longest, l.src_len(i), l.tgt_len(i)});
  ASSERT_EQ(longest_padded_len(langs), longest);
  BatchSampler one(langs, {0.5, 0.5}, 5, 2 * longest, 4), two(langs, {0.5, 0.5}, 5, 2 * longest, 4, {}, 2);
  std::vector<GlobalBatch> kept;
  int short_batches = 0;
  for (int i = 0; i < 300; ++i) {
    GlobalBatch b = one.next();
    if (b.sentences.size() < 2) ++short_batches;
    else kept.push_back(std::move(b));
  }
  ASSERT_GT(short_batches, 0);  // the premise: the single-rank stream has some
  for (const GlobalBatch& expected : kept) {
    const GlobalBatch b = two.next();
    ASSERT_EQ(b.sentences.size(), expected.sentences.size());
    for (std::size_t k = 0; k < b.sentences.size(); ++k) {
      EXPECT_EQ(b.sentences[k].lang, expected.sentences[k].lang);
      EXPECT_EQ(b.sentences[k].index, expected.sentences[k].index);
    }
  }
  // Positions count the kept batches, so a resume there continues the same stream.
  const GlobalBatch at = two.next();
  BatchSampler resumed(langs, {0.5, 0.5}, 5, 2 * longest, 4, at.position, 2);
  EXPECT_EQ(resumed.next().sentences.size(), at.sentences.size());
}

TEST_F(DataLoaderTest, TemperatureSetsLanguageShares) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, EncodeOptions{});
  const std::vector<std::size_t> counts = {langs[0].size(), langs[1].size()};
  for (double T : {1.0, 100.0}) {
    const auto w = data::temperature_weights(counts, T);
    BatchSampler s(langs, w, 1, 256, 16);
    std::map<int, double> seen;
    double total = 0;
    for (int i = 0; i < 400; ++i)
      for (const auto& r : s.next().sentences) seen[r.lang] += 1, total += 1;
    EXPECT_NEAR(seen[1] / total, w[1], 0.03) << "T=" << T;
  }
}

TEST_F(DataLoaderTest, MakeBatchShiftsTargetsAndSplitsAcrossRanks) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {"de"}, *vocab_, EncodeOptions{});
  const std::vector<SentenceRef> refs = {{0, 0}, {0, 5}, {0, 6}};
  const Batch b = make_batch(langs, refs);
  ASSERT_EQ(b.batch, 3);
  const EncodedLanguage& l = langs[0];
  for (std::int64_t r = 0; r < 3; ++r) {
    const std::size_t i = refs[r].index;
    EXPECT_EQ(b.tgt_in[r * b.tgt_len], data::Vocab::kBosId);
    for (std::int64_t t = 0; t < l.tgt_len(i); ++t) {
      EXPECT_EQ(b.labels[r * b.tgt_len + t], l.tgt_ids[l.tgt_off[i] + t]);
      if (t > 0) {
        EXPECT_EQ(b.tgt_in[r * b.tgt_len + t], l.tgt_ids[l.tgt_off[i] + t - 1]);
      }
    }
    for (std::int64_t t = l.tgt_len(i); t < b.tgt_len; ++t) EXPECT_EQ(b.labels[r * b.tgt_len + t], 0);
  }
  const Batch r0 = make_batch(langs, refs, 0, 2), r1 = make_batch(langs, refs, 1, 2);
  EXPECT_EQ(r0.batch + r1.batch, 3);
  EXPECT_EQ(r1.batch, 1);
}

TEST_F(DataLoaderTest, PrefetcherDeliversTheSamplerSequence) {
  const auto langs = encode_corpus(*dir_, data::Split::kTrain, {}, *vocab_, EncodeOptions{});
  BatchSampler direct(langs, {0.3, 0.7}, 9, 64, 4);
  Prefetcher p(BatchSampler(langs, {0.3, 0.7}, 9, 64, 4), 3);
  for (int i = 0; i < 40; ++i) {
    const GlobalBatch a = direct.next(), b = p.pop();
    ASSERT_EQ(a.position, b.position);
    ASSERT_EQ(a.sentences.size(), b.sentences.size());
  }
}

TEST_F(DataLoaderTest, EvaluationBatchesCoverEachSentenceOnce) {
  const auto langs = encode_corpus(*dir_, data::Split::kDev, {}, *vocab_, EncodeOptions{});
  ASSERT_EQ(langs.size(), 1u);  // only de has a dev file
  const auto batches = evaluation_batches(langs, 50, 20);
  std::size_t n = 0;
  for (const auto& b : batches) n += b.size();
  EXPECT_EQ(n, 20u);
}

}  // namespace
}  // namespace moe::train
