#include "data/vocab.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <iterator>

#include "util/crc32.h"
#include "util/error.h"

namespace moe::data {

Vocab::Vocab(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor) : processor_(std::move(processor)) {
  for (int id = 0; id < processor_->GetPieceSize(); ++id)
    longest_piece_bytes_ = std::max(longest_piece_bytes_, processor_->IdToPiece(id).size());
}
Vocab::Vocab(Vocab&&) noexcept = default;
Vocab& Vocab::operator=(Vocab&&) noexcept = default;
Vocab::~Vocab() = default;

namespace {
void check_special_ids(const sentencepiece::SentencePieceProcessor& sp, const std::string& origin) {
  if (sp.pad_id() != Vocab::kPadId || sp.bos_id() != Vocab::kBosId || sp.eos_id() != Vocab::kEosId ||
      sp.unk_id() != Vocab::kUnkId)
    throw FileError(origin, 0,
                    "special ids are pad=" + std::to_string(sp.pad_id()) + " bos=" + std::to_string(sp.bos_id()) +
                        " eos=" + std::to_string(sp.eos_id()) + " unk=" + std::to_string(sp.unk_id()) +
                        "; the toolkit needs pad=0 bos=1 eos=2 unk=3 (train it with moe-tokenize train)");
}
}  // namespace

std::string sentencepiece_reason(std::string_view message) {
  // "./src/sentencepiece_processor.cc(1101) ": where SentencePiece's check failed.
  const std::size_t space = message.find(' ');
  const std::size_t open = message.substr(0, space).rfind(".cc(");
  bool located = false;
  if (space != std::string_view::npos && open != std::string_view::npos && message[space - 1] == ')') {
    const std::string_view line = message.substr(open + 4, space - 1 - (open + 4));
    located = !line.empty() && std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (located) message.remove_prefix(space + 1);
  }
  // "[model_proto->ParseFromArray(...)] ": the C++ condition that failed.
  if (located && !message.empty() && message.front() == '[') {
    int depth = 0;
    for (std::size_t i = 0; i < message.size(); ++i) {
      depth += message[i] == '[' ? 1 : message[i] == ']' ? -1 : 0;
      if (depth == 0) {
        message.remove_prefix(i + 1);
        break;
      }
    }
  }
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!message.empty() && is_space(message.front())) message.remove_prefix(1);
  while (!message.empty() && is_space(message.back())) message.remove_suffix(1);
  return std::string(message);
}

Vocab Vocab::load(const std::string& path) {
  // Read here rather than by SentencePiece, which names its own source file
  // in I/O errors and throws std::ios_base::failure on a directory.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path, 0, "is a directory, not a SentencePiece model");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, std::string("cannot open the SentencePiece model: ") + std::strerror(errno));
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    throw FileError(path, 0, std::string("read error: ") + std::strerror(errno));
  }
  if (in.bad()) throw FileError(path, 0, "read error");
  return from_serialized(bytes, path);
}

Vocab Vocab::from_serialized(const std::string& model_proto, const std::string& origin) {
  if (model_proto.empty()) throw FileError(origin, 0, "not a SentencePiece model (empty)");
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->LoadFromSerializedProto(model_proto);
  if (!status.ok()) {
    const std::string reason = sentencepiece_reason(status.message());
    throw FileError(origin, 0, "not a SentencePiece model" + (reason.empty() ? "" : ": " + reason));
  }
  check_special_ids(*sp, origin);
  return Vocab(std::move(sp));
}

int Vocab::size() const { return processor_->GetPieceSize(); }

std::vector<int> Vocab::encode_ids(std::string_view text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw InputError("cannot encode text: " + sentencepiece_reason(status.message()));
  return ids;
}

std::vector<std::string> Vocab::encode_pieces(std::string_view text) const {
  std::vector<std::string> pieces;
  const auto status = processor_->Encode(text, &pieces);
  if (!status.ok()) throw InputError("cannot encode text: " + sentencepiece_reason(status.message()));
  return pieces;
}

std::string Vocab::decode_ids(const std::vector<int>& ids) const {
  std::vector<int> text_ids;
  text_ids.reserve(ids.size());
  for (int id : ids) {
    if (id < 0 || id >= size())
      throw InputError("id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(size()) + ")");
    if (id != kPadId && id != kBosId && id != kEosId) text_ids.push_back(id);
  }
  std::string text;
  const auto status = processor_->Decode(text_ids, &text);
  if (!status.ok()) throw InputError("cannot decode ids: " + sentencepiece_reason(status.message()));
  return text;
}

std::string Vocab::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string text;
  const auto status = processor_->Decode(pieces, &text);
  if (!status.ok()) throw InputError("cannot decode pieces: " + sentencepiece_reason(status.message()));
  return text;
}

int Vocab::piece_to_id(std::string_view piece) const { return processor_->PieceToId(piece); }
const std::string& Vocab::id_to_piece(int id) const { return processor_->IdToPiece(id); }
bool Vocab::is_control(int id) const { return processor_->IsControl(id); }

std::string vocab_fingerprint(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw FileError(model_path, 0, "cannot read the vocabulary model");
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x-%zu", crc32(bytes.data(), bytes.size()), bytes.size());
  return buf;
}

}  // namespace moe::data
