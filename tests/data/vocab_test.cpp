#include "data/vocab.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <streambuf>

#include "data/line_codec.h"
#include "data/vocab_training.h"
#include "util/error.h"
#include "util/log.h"

namespace moe::data {
namespace {
namespace fs = std::filesystem;

const std::map<std::string, std::vector<std::string>>& phrases() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"de", {"Datei öffnen", "Fenster schließen", "Einstellungen speichern", "Neues Dokument erstellen"}},
      {"fr", {"Ouvrir le fichier", "Fermer la fenêtre", "Enregistrer les paramètres", "Créer un nouveau document"}},
      {"ru", {"Открыть файл", "Закрыть окно", "Сохранить настройки", "Создать новый документ"}},
      {"zh-Hans", {"打开文件", "关闭窗口", "保存设置", "创建新文档"}},
  };
  return table;
}
const std::vector<std::string> kEnglish = {"Open the file", "Close the window", "Save the settings",
                                           "Create a new document"};

// A corpus whose languages have 400, 200, 100 and 50 training pairs.
fs::path write_corpus(const fs::path& dir) {
  fs::create_directories(dir / "train");
  std::size_t size = 400;
  for (const auto& [code, texts] : phrases()) {
    std::ofstream out(dir / "train" / (code + ".tsv"));
    for (std::size_t i = 0; i < size; ++i)
      out << texts[i % 4] << ' ' << i << '\t' << kEnglish[i % 4] << ' ' << i << '\n';
    size /= 2;
  }
  return dir;
}

std::string slurp(const fs::path& path) {
  std::ostringstream s;
  s << std::ifstream(path, std::ios::binary).rdbuf();
  return s.str();
}

class VocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("moe-vocab-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    write_corpus(*dir_ / "corpus");
    log::set_level(log::Level::kQuiet);
    train_vocab(sample_vocab_sentences((*dir_ / "corpus").string(), VocabSide::kShared, tiny_options()),
                tiny_options(), (*dir_ / "a").string());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    log::set_level(log::Level::kInfo);
  }
  static VocabTrainOptions tiny_options() {
    VocabTrainOptions o;
    o.vocab_size = 150;
    o.character_coverage = 1.0;
    o.sentences = 600;
    o.threads = 2;
    o.seed = 7;
    o.user_defined_symbols = language_tags({"de", "fr", "ru", "zh-Hans"});
    return o;
  }
  static fs::path* dir_;
};
fs::path* VocabTest::dir_ = nullptr;

TEST_F(VocabTest, SamplingFollowsTemperatureAndIsDeterministic) {
  const std::string corpus = (*dir_ / "corpus").string();
  VocabTrainOptions options = tiny_options();
  const std::vector<std::string> a = sample_vocab_sentences(corpus, VocabSide::kSource, options);
  EXPECT_EQ(a, sample_vocab_sentences(corpus, VocabSide::kSource, options));
  options.seed = 8;
  EXPECT_NE(a, sample_vocab_sentences(corpus, VocabSide::kSource, options));
  // T = 5 over counts 400/200/100/50: shares proportional to n^(1/5).
  std::map<std::string, int> per_language;
  for (const auto& s : a) {
    for (const auto& [code, texts] : phrases())
      for (const auto& t : texts)
        if (s.rfind(t + " ", 0) == 0) ++per_language[code];
  }
  EXPECT_NEAR(static_cast<double>(a.size()), 600.0, 2.0);  // each language's share is rounded
  EXPECT_GT(per_language["de"], per_language["zh-Hans"]);
  EXPECT_NEAR(static_cast<double>(per_language["de"]) / per_language["zh-Hans"], std::pow(8.0, 0.2), 0.05);
  // zh-Hans has 50 pairs but gets ~120 draws: every pair is used, some twice.
  EXPECT_GT(per_language["zh-Hans"], 50);
  // The shared side adds the English of each drawn pair.
  EXPECT_EQ(sample_vocab_sentences(corpus, VocabSide::kShared, tiny_options()).size(), 2 * a.size());
}

TEST_F(VocabTest, TrainingIsDeterministicForASeed) {
  train_vocab(sample_vocab_sentences((*dir_ / "corpus").string(), VocabSide::kShared, tiny_options()), tiny_options(),
              (*dir_ / "b").string());
  // The files differ only in the model_prefix SentencePiece records; the
  // pieces, their order (by score) and the segmentations must be identical.
  const Vocab a = Vocab::load((*dir_ / "a.model").string());
  const Vocab b = Vocab::load((*dir_ / "b.model").string());
  ASSERT_EQ(a.size(), b.size());
  for (int id = 0; id < a.size(); ++id) ASSERT_EQ(a.id_to_piece(id), b.id_to_piece(id)) << id;
  EXPECT_EQ(a.encode_ids("Neues Dokument erstellen 399"), b.encode_ids("Neues Dokument erstellen 399"));
  const std::string bytes_a = slurp(*dir_ / "a.model"), bytes_b = slurp(*dir_ / "b.model");
  EXPECT_EQ(bytes_a.size(), bytes_b.size());
}

TEST_F(VocabTest, SpecialIdsTagsAndRoundTrip) {
  const Vocab vocab = Vocab::load((*dir_ / "a.model").string());
  EXPECT_EQ(vocab.size(), 150);
  EXPECT_EQ(vocab.id_to_piece(Vocab::kPadId), "<pad>");
  EXPECT_EQ(vocab.id_to_piece(Vocab::kBosId), "<s>");
  EXPECT_EQ(vocab.id_to_piece(Vocab::kEosId), "</s>");
  EXPECT_EQ(vocab.id_to_piece(Vocab::kUnkId), "<unk>");
  EXPECT_NE(vocab.piece_to_id("<2en>"), Vocab::kUnkId);
  EXPECT_EQ(vocab.encode_ids("<2zh-Hans>").back(), vocab.piece_to_id("<2zh-Hans>"));
  for (const std::string text : {"Datei öffnen 12", "Закрыть окно", "打开文件", "Close the window"}) {
    const std::vector<int> ids = vocab.encode_ids(text);
    EXPECT_EQ(vocab.decode_ids(ids), text);
    EXPECT_EQ(vocab.decode_pieces(vocab.encode_pieces(text)), text);
    std::vector<int> framed = {Vocab::kBosId};
    framed.insert(framed.end(), ids.begin(), ids.end());
    framed.push_back(Vocab::kEosId);
    EXPECT_EQ(vocab.decode_ids(framed), text);  // bos/eos are not text
  }
  EXPECT_THROW(vocab.decode_ids({5, 100000}), InputError);
  EXPECT_THROW(Vocab::load((*dir_ / "corpus" / "train" / "de.tsv").string()), FileError);
  // SentencePiece itself would throw std::ios_base::failure on a directory.
  EXPECT_THROW(Vocab::load((*dir_ / "corpus").string()), FileError);
  EXPECT_THROW(Vocab::load((*dir_ / "missing.model").string()), FileError);
}

TEST_F(VocabTest, NormalizationRuleDecidesWhetherDecodingIsExact) {
  std::vector<std::string> sentences = sample_vocab_sentences((*dir_ / "corpus").string(), VocabSide::kShared, tiny_options());
  sentences.push_back("Wait… ＡＢＣ");
  VocabTrainOptions identity = tiny_options();
  identity.normalization = "identity";
  train_vocab(sentences, identity, (*dir_ / "identity").string());
  train_vocab(sentences, tiny_options(), (*dir_ / "nfkc").string());
  const Vocab exact = Vocab::load((*dir_ / "identity.model").string());
  const Vocab folded = Vocab::load((*dir_ / "nfkc.model").string());
  EXPECT_EQ(exact.decode_ids(exact.encode_ids("Wait… ＡＢＣ")), "Wait… ＡＢＣ");
  EXPECT_EQ(folded.decode_ids(folded.encode_ids("Wait… ＡＢＣ")), "Wait... ABC");
  identity.normalization = "lowercase";
  EXPECT_THROW(train_vocab(sentences, identity, (*dir_ / "bad").string()), InputError);
}

TEST_F(VocabTest, ControlPiecesTagsLongestPieceAndFingerprint) {
  const Vocab vocab = Vocab::load((*dir_ / "a.model").string());
  EXPECT_TRUE(vocab.is_control(Vocab::kPadId));
  EXPECT_TRUE(vocab.is_control(Vocab::kBosId));
  EXPECT_TRUE(vocab.is_control(Vocab::kEosId));
  EXPECT_FALSE(vocab.is_control(Vocab::kUnkId));
  EXPECT_FALSE(vocab.is_control(vocab.piece_to_id("<2en>")));
  std::size_t longest = 0;
  for (int id = 0; id < vocab.size(); ++id) longest = std::max(longest, vocab.id_to_piece(id).size());
  EXPECT_EQ(vocab.longest_piece_bytes(), longest);

  for (const std::string& tag : language_tags({"de", "zh-Hans", "pt-BR"})) EXPECT_TRUE(is_language_tag(tag)) << tag;
  for (const char* piece : {"<s>", "</s>", "<2>", "2en", "<2en", "<2e n>", "▁<2en>", "<unk>"})
    EXPECT_FALSE(is_language_tag(piece)) << piece;

  const std::string a = (*dir_ / "a.model").string();
  EXPECT_EQ(vocab_fingerprint(a), vocab_fingerprint(a));
  EXPECT_NE(vocab_fingerprint(a).find('-' + std::to_string(fs::file_size(a))), std::string::npos);
  fs::copy_file(a, *dir_ / "changed.model", fs::copy_options::overwrite_existing);
  std::fstream(*dir_ / "changed.model", std::ios::in | std::ios::out | std::ios::binary).put('\x7f');
  EXPECT_NE(vocab_fingerprint((*dir_ / "changed.model").string()), vocab_fingerprint(a));
  EXPECT_THROW(vocab_fingerprint((*dir_ / "missing.model").string()), FileError);
}

TEST_F(VocabTest, DuplicateUserSymbolsAreOneError) {
  VocabTrainOptions options = tiny_options();
  options.user_defined_symbols.push_back("<2de>");  // language_tags() has it already
  try {
    train_vocab({"Datei öffnen", "Open the file"}, options, (*dir_ / "dup").string());
    FAIL() << "a duplicate symbol was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "user-defined symbol '<2de>' is listed twice");
  }
  EXPECT_FALSE(fs::exists(*dir_ / "dup.model"));
}

TEST_F(VocabTest, LineCodecRejectsInvalidUtf8AndMissingColumnsByLine) {
  const Vocab vocab = Vocab::load((*dir_ / "a.model").string());
  LineCodec codec;
  codec.vocab = &vocab;
  auto error_of = [&](const std::string& input, bool encode) -> std::string {
    std::istringstream in(input);
    std::ostringstream out;
    try {
      transform_lines(in, out, 2, "<stdin>", [&](std::string_view line) {
        return encode ? encode_line(line, codec) : decode_line(line, codec);
      });
    } catch (const FileError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of("fine\nab\xff" "cd\n", true), "<stdin>:2: invalid UTF-8");
  EXPECT_EQ(error_of("\xc3\n", false), "<stdin>:1: invalid UTF-8");
  codec.columns = {1, 3};
  EXPECT_EQ(error_of("a\tb\tc\na\tb\n", true), "<stdin>:2: column 3 is asked for, but the line has only 2 columns");
  EXPECT_EQ(error_of("a\n", false), "<stdin>:1: column 3 is asked for, but the line has only 1 column");
}

TEST_F(VocabTest, TrainingErrorsGiveSentencePiecesReasonOnly) {
  VocabTrainOptions options = tiny_options();
  options.vocab_size = 4000;
  try {
    train_vocab({"Datei öffnen", "Open the file"}, options, (*dir_ / "huge").string());
    FAIL() << "a vocabulary larger than the data allows was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("SentencePiece training failed: Vocabulary size too high (4000).", 0), 0u)
        << e.what();
  }
  EXPECT_THROW(train_vocab({"Datei öffnen"}, tiny_options(), (*dir_ / "no" / "such" / "m").string()), FileError);
}

TEST(SentencePieceReason, DropsTheSourceLocationAndTheFailedCondition) {
  EXPECT_EQ(sentencepiece_reason("./src/sentencepiece_processor.cc(1101) "
                                 "[model_proto->ParseFromArray(serialized.data(), serialized.size())] "),
            "");
  EXPECT_EQ(sentencepiece_reason("./src/trainer_interface.cc(660) [(a[i]) == (b)] Vocabulary size too high (80). "
                                 "Please set it to a value <= 66.\n"),
            "Vocabulary size too high (80). Please set it to a value <= 66.");
  EXPECT_EQ(sentencepiece_reason("unk is not defined."), "unk is not defined.");
  EXPECT_EQ(sentencepiece_reason("[brackets] of a plain message "), "[brackets] of a plain message");
  EXPECT_EQ(sentencepiece_reason("see f(2) first"), "see f(2) first");
}

// A stream whose first read gives `text` and whose next one fails like read(2) with EIO.
class FailingReadBuf : public std::streambuf {
 public:
  explicit FailingReadBuf(std::string text) : text_(std::move(text)) {}

 protected:
  int_type underflow() override {
    if (!served_) {
      served_ = true;
      setg(text_.data(), text_.data(), text_.data() + text_.size());
      return traits_type::to_int_type(*gptr());
    }
    errno = EIO;
    throw std::ios_base::failure("read failed");
  }

 private:
  std::string text_;
  bool served_ = false;
};

TEST(LineCodec, AReadErrorIsNotTakenForTheEndOfTheInput) {
  FailingReadBuf buffer("first\nsecond\n");
  std::istream in(&buffer);
  std::ostringstream out;
  try {
    transform_lines(in, out, 1, "<stdin>", [](std::string_view line) { return std::string(line); });
    FAIL() << "the read error ended the input silently";
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), "<stdin>:3: read error: Input/output error");
  }
}

TEST_F(VocabTest, LineCodecTransformsOnlyTheChosenColumnsInOrder) {
  const Vocab vocab = Vocab::load((*dir_ / "a.model").string());
  LineCodec codec;
  codec.vocab = &vocab;
  codec.columns = {2};
  codec.format = TokenFormat::kIds;
  const std::string encoded = encode_line("id-7\tFenster schließen", codec);
  EXPECT_EQ(encoded.substr(0, 5), "id-7\t");
  EXPECT_EQ(decode_line(encoded, codec), "id-7\tFenster schließen");
  EXPECT_THROW(decode_line("x\t5 five", codec), InputError);

  std::string input;
  for (int i = 0; i < 20000; ++i) input += "Open the file " + std::to_string(i) + "\tDatei öffnen\n";
  std::istringstream in(input);
  std::ostringstream pieces;
  codec.columns = {};
  codec.format = TokenFormat::kPieces;
  transform_lines(in, pieces, 4, "<stdin>", [&](std::string_view line) { return encode_line(line, codec); });
  std::istringstream back_in(pieces.str());
  std::ostringstream text;
  transform_lines(back_in, text, 4, "<stdin>", [&](std::string_view line) { return decode_line(line, codec); });
  EXPECT_EQ(text.str(), input);

  std::istringstream bad("1 2\n3 x\n");
  std::ostringstream sink;
  codec.format = TokenFormat::kIds;
  try {
    transform_lines(bad, sink, 2, "<stdin>", [&](std::string_view line) { return decode_line(line, codec); });
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.line(), 2);
  }
}

}  // namespace
}  // namespace moe::data
