// A checkpoint from a tiny training run translates its training sentences
// back: train a SentencePiece model and a tiny MoE Transformer (plain Adam
// over the flat weight buffers) until it memorises six pairs, save it as the
// trainer does, and load it through the checkpoint directory like
// moe-translate.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "config/recipe.h"
#include "data/vocab.h"
#include "data/vocab_training.h"
#include "decode/translator.h"
#include "io/checkpoint.h"
#include "io/tensor_set.h"
#include "util/error.h"

namespace moe::decode {
namespace {
namespace fs = std::filesystem;

const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"ein hund", "a dog"},           {"eine katze", "a cat"},
    {"der vogel singt", "the bird sings"}, {"ich sehe dich", "i see you"},
    {"guten morgen", "good morning"}, {"danke schön", "thank you"},
};

// Adam over one flat buffer (the weight table keeps replicated and expert
// parameters in one buffer each).
struct Adam {
  std::vector<float> m, v;
  void update(TensorView<float> w, TensorView<float> g, double lr, int step) {
    const std::int64_t n = w.numel();
    m.resize(static_cast<std::size_t>(n));
    v.resize(static_cast<std::size_t>(n));
    const double b1 = 0.9, b2 = 0.98, c1 = 1 - std::pow(b1, step), c2 = 1 - std::pow(b2, step);
    for (std::int64_t i = 0; i < n; ++i) {
      m[i] = static_cast<float>(b1 * m[i] + (1 - b1) * g[i]);
      v[i] = static_cast<float>(b2 * v[i] + (1 - b2) * g[i] * g[i]);
      w[i] -= static_cast<float>(lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-9));
    }
  }
};

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() / ("moe-decode-e2e-" + std::to_string(::getpid()))).string();
    fs::remove_all(run_);
    fs::create_directories(run_);
  }
  void TearDown() override { fs::remove_all(run_); }

  std::string train_and_save() {
    std::vector<std::string> lines;
    for (const auto& [src, tgt] : kPairs) {
      lines.push_back(src);
      lines.push_back(tgt);
    }
    data::VocabTrainOptions vo;
    vo.vocab_size = 40;
    vo.character_coverage = 1.0;
    vo.user_defined_symbols = {"<2en>"};
    data::train_vocab(lines, vo, run_ + "/vocab");
    const data::Vocab vocab = data::Vocab::load(run_ + "/vocab.model");

    config::Recipe recipe;
    recipe.data.target_lang_tag = true;  // sources start with <2en>: the tag path is exercised
    ModelConfig& c = recipe.model;
    c.vocab = vocab.size();
    c.d_model = 32;
    c.ffn_dim = 64;
    c.heads = 4;
    c.enc_layers = 2;
    c.dec_layers = 2;
    c.moe.num_experts = 4;
    c.moe.group_size = 16;
    c.dropout = 0;
    c.label_smoothing = 0;
    c.max_positions = 32;

    SourceFormat format;
    format.target_lang_tag = true;
    Batch batch;
    batch.batch = static_cast<std::int64_t>(kPairs.size());
    std::vector<std::vector<std::int32_t>> src, tgt;
    for (const auto& [s, t] : kPairs) {
      src.push_back(encode_source(vocab, s, format).ids);
      const std::vector<int> ids = vocab.encode_ids(t);
      tgt.emplace_back(ids.begin(), ids.end());
      batch.src_len = std::max<std::int64_t>(batch.src_len, static_cast<std::int64_t>(src.back().size()));
      batch.tgt_len = std::max<std::int64_t>(batch.tgt_len, static_cast<std::int64_t>(tgt.back().size()) + 1);
    }
    batch.src.assign(static_cast<std::size_t>(batch.batch * batch.src_len), c.pad_id);
    batch.tgt_in.assign(static_cast<std::size_t>(batch.batch * batch.tgt_len), c.pad_id);
    batch.labels.assign(static_cast<std::size_t>(batch.batch * batch.tgt_len), c.pad_id);
    for (std::size_t b = 0; b < src.size(); ++b) {
      std::copy(src[b].begin(), src[b].end(), batch.src.begin() + static_cast<std::int64_t>(b) * batch.src_len);
      std::int32_t* in = batch.tgt_in.data() + b * batch.tgt_len;
      std::int32_t* out = batch.labels.data() + b * batch.tgt_len;
      in[0] = c.bos_id;
      for (std::size_t t = 0; t < tgt[b].size(); ++t) in[t + 1] = out[t] = tgt[b][t];
      out[tgt[b].size()] = c.eos_id;
    }

    Transformer<float> model(c, /*seed=*/3);
    WeightTable<float>& w = model.weights();
    Adam replicated, experts;
    double nll = 1e9;
    for (int step = 1; step <= 400 && nll > 0.01; ++step) {
      w.zero_grads();
      Rng rng(static_cast<std::uint64_t>(step));
      nll = model.forward(batch, /*training=*/true, rng).nll;
      model.backward();
      replicated.update(w.params(MeshAxis::kReplicated), w.grads(MeshAxis::kReplicated), 3e-3, step);
      experts.update(w.params(MeshAxis::kExpert), w.grads(MeshAxis::kExpert), 3e-3, step);
    }
    EXPECT_LT(nll, 0.01) << "the tiny model did not memorise its pairs";

    io::CheckpointWrite cw;
    cw.run_dir = run_;
    cw.step = 400;
    cw.weights = io::weight_tensors(w, c.moe.num_experts);
    cw.trainer_state_json = "{}";
    cw.recipe_yaml = config::recipe_to_yaml(recipe);
    cw.vocab_path = run_ + "/vocab.model";
    cw.vocab_fingerprint = data::vocab_fingerprint(cw.vocab_path);
    return io::save_checkpoint(cw);
  }

  std::string run_;
};

TEST_F(EndToEndTest, CheckpointTranslatesItsTrainingSentencesBack) {
  const std::string checkpoint = train_and_save();
  std::vector<std::string> sources;
  for (const auto& p : kPairs) sources.push_back(p.first);
  // Empty and blank input: empty output, no model call.
  const std::vector<std::string> blanks = {"", "\t", "\u3000\u00a0", "\ufeff "};
  sources.insert(sources.end(), blanks.begin(), blanks.end());
  for (int beam : {1, 4}) {
    TranslatorOptions o;
    o.model_path = run_;  // a run directory resolves to its latest checkpoint
    o.search.beam_size = beam;
    o.search.n_best = beam;
    Translator translator(o);
    EXPECT_EQ(translator.checkpoint().dir, checkpoint);
    const std::vector<TextTranslation> out = translator.translate(sources);
    ASSERT_EQ(out.size(), sources.size());
    for (std::size_t i = 0; i < kPairs.size(); ++i) {
      ASSERT_EQ(out[i].hypotheses.size(), static_cast<std::size_t>(beam));
      EXPECT_EQ(out[i].hypotheses[0].text, kPairs[i].second) << "beam " << beam << ": " << kPairs[i].first;
      EXPECT_FALSE(out[i].hypotheses[0].pieces.empty());
      EXPECT_GT(out[i].hypotheses[0].log_prob, -0.5);
    }
    for (std::size_t i = kPairs.size(); i < sources.size(); ++i) {
      ASSERT_EQ(out[i].hypotheses.size(), 1u) << i;
      EXPECT_EQ(out[i].hypotheses[0].text, "");
      EXPECT_TRUE(out[i].hypotheses[0].pieces.empty());
    }
    try {
      translator.translate({"ein hund", "bad \xff byte"}, 40);
      ADD_FAILURE() << "invalid UTF-8 accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "input 42: invalid UTF-8");
    }
  }
  // A beam wider than the vocabulary (40 pieces) is refused before the weights load.
  {
    TranslatorOptions o;
    o.model_path = run_;
    o.search.beam_size = 41;
    try {
      Translator translator(o);
      ADD_FAILURE() << "beam 41 over 40 pieces accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "beam_size: must be at most the vocabulary size (40), got 41");
    }
  }
  // Another SentencePiece model in the checkpoint's place: refused by name,
  // though it has as many pieces.
  std::vector<std::string> lines;
  for (const auto& [src, tgt] : kPairs) lines.insert(lines.end(), {src, tgt});
  data::VocabTrainOptions vo;
  vo.vocab_size = 40;
  vo.character_coverage = 1.0;
  vo.user_defined_symbols = {"<2en>"};
  vo.normalization = "identity";
  data::train_vocab(lines, vo, run_ + "/other");
  ASSERT_EQ(data::Vocab::load(run_ + "/other.model").size(), 40);
  fs::copy_file(run_ + "/other.model", checkpoint + "/vocab.model", fs::copy_options::overwrite_existing);
  TranslatorOptions o;
  o.model_path = checkpoint;
  try {
    Translator translator(o);
    ADD_FAILURE() << "a foreign vocabulary was accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), checkpoint + "/vocab.model");
    EXPECT_NE(std::string(e.what()).find("not the vocabulary this checkpoint was trained with"), std::string::npos)
        << e.what();
  }
}

TEST_F(EndToEndTest, MissingCheckpointIsAFileError) {
  TranslatorOptions o;
  o.model_path = run_ + "/nothing-here";
  EXPECT_THROW(Translator{o}, FileError);
}

TEST(EncodeSource, MirrorsTrainingFormatAndTruncates) {
  const std::string dir = (fs::temp_directory_path() / ("moe-decode-vocab-" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  data::VocabTrainOptions vo;
  vo.vocab_size = 16;
  vo.character_coverage = 1.0;
  vo.user_defined_symbols = {"<2en>"};
  data::train_vocab({"abc abd", "bcd cde", "a b c d e"}, vo, dir + "/v");
  const data::Vocab vocab = data::Vocab::load(dir + "/v.model");
  fs::remove_all(dir);
  const std::vector<int> pieces = vocab.encode_ids("a b c d e");
  // Pad, BOS and the tag are never generated; EOS and unk may be.
  EXPECT_EQ(never_generated_ids(vocab),
            (std::vector<std::int32_t>{data::Vocab::kPadId, data::Vocab::kBosId, vocab.piece_to_id("<2en>")}));
  SourceFormat f;
  EncodedSource plain = encode_source(vocab, "a b c d e", f);
  ASSERT_EQ(plain.ids.size(), pieces.size() + 1);
  EXPECT_EQ(plain.ids.back(), data::Vocab::kEosId);
  EXPECT_FALSE(plain.truncated);
  f.target_lang_tag = true;
  f.max_input_length = 4;  // <2en> + 2 pieces + EOS
  EncodedSource cut = encode_source(vocab, "a b c d e", f);
  ASSERT_EQ(cut.ids.size(), 4u);
  EXPECT_EQ(cut.ids[0], vocab.piece_to_id("<2en>"));
  EXPECT_EQ(cut.ids[1], pieces[0]);
  EXPECT_EQ(cut.ids[3], data::Vocab::kEosId);
  EXPECT_TRUE(cut.truncated);
  EXPECT_TRUE(cut.cut_tokens);
  EXPECT_EQ(cut.cut_bytes, 0u);
  f.max_input_length = 2;  // no room for a piece
  EXPECT_THROW(encode_source(vocab, "a", f), InputError);

  // A long line is cut before SentencePiece sees all of it (a megabyte of
  // characters the model does not know takes SentencePiece ~20 s whole): the
  // kept pieces are still those of the whole line.
  f = SourceFormat{};
  std::string words;
  for (int i = 0; i < 20000; ++i) words += "a b c d e ";
  const std::vector<int> all = vocab.encode_ids(words);
  const EncodedSource long_words = encode_source(vocab, words, f);
  ASSERT_EQ(long_words.ids.size(), static_cast<std::size_t>(f.max_input_length));
  EXPECT_TRUE(long_words.truncated);
  EXPECT_TRUE(long_words.cut_tokens);
  EXPECT_GT(long_words.cut_bytes, 0u);
  EXPECT_TRUE(std::equal(long_words.ids.begin(), long_words.ids.end() - 1, all.begin()));
  const EncodedSource unknown = encode_source(vocab, std::string(1 << 20, 'z') + " a", f);
  EXPECT_TRUE(unknown.truncated);
  // Cut by bytes only: one <unk> piece (and EOS) is far below the token limit.
  EXPECT_FALSE(unknown.cut_tokens);
  EXPECT_GT(unknown.cut_bytes, 0u);
  EXPECT_LT(unknown.ids.size(), 4u);
  EXPECT_NE(std::find(unknown.ids.begin(), unknown.ids.end(), data::Vocab::kUnkId), unknown.ids.end());
}

// With an identity-normalising vocabulary (as the project trains its own)
// SentencePiece leaves the text alone, so the translator must clean it as the
// corpus builder cleaned every source: NFC, invisible characters, tabs and
// NBSP, runs of spaces. Lines that clean to nothing (or to White_Space alone)
// have no pieces.
TEST(EncodeSource, CleansTextAsTheCorpusSourcesWereCleaned) {
  const std::string dir = (fs::temp_directory_path() / ("moe-decode-clean-" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  data::VocabTrainOptions vo;
  vo.vocab_size = 20;
  vo.character_coverage = 1.0;
  vo.normalization = "identity";
  data::train_vocab({"Kh\u00f4ng th\u1ec3 m\u1edf t\u1eadp tin", "m\u1edf t\u1eadp tin", "tin : th\u1ec3", "t\u1eadp tin"}, vo,
                    dir + "/v");
  const data::Vocab vocab = data::Vocab::load(dir + "/v.model");
  fs::remove_all(dir);
  const SourceFormat f;
  const std::string nfc = "Kh\u00f4ng th\u1ec3 m\u1edf t\u1eadp tin";
  const std::string nfd = "Kho\u0302ng the\u0302\u0309 mo\u031b\u0309 ta\u0323\u0302p tin";
  EXPECT_EQ(clean_source_text(nfd), nfc);
  const EncodedSource plain = encode_source(vocab, nfc, f);
  EXPECT_EQ(std::count(plain.ids.begin(), plain.ids.end(), data::Vocab::kUnkId), 0);
  for (const std::string& variant : std::vector<std::string>{
           nfd, "\ufeff" + nfc, "  Kh\u00f4ng\tth\u1ec3  m\u1edf\u00a0t\u1eadp tin \r",
           "Kh\u00f4\u00adng th\u200b\u1ec3 m\u1edf t\u1eadp\u202ftin\x01"}) {
    const EncodedSource e = encode_source(vocab, variant, f);
    EXPECT_EQ(e.ids, plain.ids) << variant;
    EXPECT_FALSE(e.truncated);
  }
  EXPECT_EQ(encode_source(vocab, "tin\u00a0: th\u1ec3", f).ids, encode_source(vocab, "tin : th\u1ec3", f).ids);
  // Nothing but whitespace or invisible characters: EOS alone (the tag too
  // when asked for), which the Translator answers without the model.
  for (const char* blank : {"", "   ", "\t", "\u00a0", "\u3000", "\v", " \t\u3000\u2003 \ufeff\u200b", "\r"}) {
    EXPECT_TRUE(is_blank(clean_source_text(blank))) << blank;
    EXPECT_EQ(encode_source(vocab, blank, f).ids, std::vector<std::int32_t>{data::Vocab::kEosId}) << blank;
  }
  EXPECT_FALSE(is_blank("\u3000tin"));
  // Inside a sentence a U+3000 stays, as in the corpus.
  EXPECT_EQ(clean_source_text("tin\u3000tin"), "tin\u3000tin");
}

}  // namespace
}  // namespace moe::decode
