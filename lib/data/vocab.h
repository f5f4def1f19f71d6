#pragma once
// A SentencePiece model as the toolkit's vocabulary: text <-> ids/pieces.
// The model file is a plain SentencePiece .model (spm_encode reads it); ids
// follow the model code's convention pad=0, bos=1, eos=2, unk=3, which
// train_vocab() guarantees. Encoding and decoding are const and thread-safe.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace moe::data {

class Vocab {
 public:
  static constexpr int kPadId = 0, kBosId = 1, kEosId = 2, kUnkId = 3;

  // Throws FileError naming `path` when it is not a readable SentencePiece
  // model, or when its special ids differ from pad 0 / bos 1 / eos 2 / unk 3.
  static Vocab load(const std::string& path);
  static Vocab from_serialized(const std::string& model_proto, const std::string& origin);

  Vocab(Vocab&&) noexcept;
  Vocab& operator=(Vocab&&) noexcept;
  ~Vocab();

  int size() const;  // V
  // [N] ids of `text` (no bos/eos: the model adds them).
  std::vector<int> encode_ids(std::string_view text) const;
  std::vector<std::string> encode_pieces(std::string_view text) const;
  // pad/bos/eos ids are skipped; ids outside [0, V) throw InputError.
  std::string decode_ids(const std::vector<int>& ids) const;
  std::string decode_pieces(const std::vector<std::string>& pieces) const;
  int piece_to_id(std::string_view piece) const;  // unk id if absent
  const std::string& id_to_piece(int id) const;
  // SentencePiece control pieces: pad, bos and eos (never text).
  bool is_control(int id) const;
  // Bytes of the longest piece (its normalized form, "▁" counted as 3 bytes).
  // Every piece but a run of unknown characters covers at least one
  // character, so N pieces of text never span more than about N times this.
  std::size_t longest_piece_bytes() const { return longest_piece_bytes_; }

 private:
  explicit Vocab(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::size_t longest_piece_bytes_ = 0;
};

// A SentencePiece status message without the source location and failed
// condition it starts with ("./src/x.cc(12) [cond] "), nor surrounding
// whitespace: what SentencePiece meant for a user, possibly nothing.
std::string sentencepiece_reason(std::string_view message);

// "CRC32-SIZE" of the model file's bytes: what a checkpoint records of the
// vocabulary it was trained with (moe-train writes it, moe-translate checks
// it). Throws FileError when `model_path` cannot be read.
std::string vocab_fingerprint(const std::string& model_path);

}  // namespace moe::data
