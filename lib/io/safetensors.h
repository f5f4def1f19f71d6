#pragma once
// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. Readable from Python
// with `safetensors.numpy.load_file` and no custom code.
//
// Beyond the format, every file this writer produces carries the CRC-32 of
// its data section in the metadata ("moe.crc32"), so a corrupted checkpoint
// is refused on load rather than silently resumed from.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace moe::io {

enum class DType { kF32, kF64, kI64, kI32, kU8 };
std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", ...

// A tensor to write: borrowed pointer to numel(shape) elements of `dtype`.
struct TensorSource {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};

// Writes atomically (temporary file + rename). Names must be unique.
void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

struct TensorInfo {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range within the data section
  std::int64_t numel() const;
};

// An open safetensors file, validated on open: header JSON, every byte range
// inside the data and non-overlapping, dtype sizes consistent, and the CRC
// when the file has one (checked by streaming the data once). Tensors are
// read from the file straight into the caller's memory, so loading a model
// never holds its weights twice. The file stays open for the object's
// lifetime (a checkpoint replaced meanwhile is not mixed in); reads are not
// thread-safe. Every failure is a FileError naming the path.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // in data order
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;  // throws FileError if absent
  // Copies tensor `name` into `out` (exactly numel elements of dtype F32,
  // F64 is converted); throws FileError on a missing tensor or a shape mismatch.
  void read_f32(const std::string& name, const std::vector<std::int64_t>& expected_shape,
                float* out) const;
  // Copies `count` raw bytes of tensor `name`, starting `offset` bytes into
  // it, to `out`; a range outside the tensor is a FileError.
  void read_bytes(const std::string& name, std::uint64_t offset, std::uint64_t count, void* out) const;

 private:
  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
  mutable std::ifstream in_;
  std::uint64_t data_start_ = 0;  // file offset of the data section
};

}  // namespace moe::io
