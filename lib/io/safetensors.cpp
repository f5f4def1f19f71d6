#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/atomic_file.h"
#include "util/crc32.h"
#include "util/error.h"

namespace moe::io {
namespace {

constexpr const char* kCrcKey = "moe.crc32";
// Bigger headers than this are not produced by any sane writer; refusing them
// keeps a corrupted length field from allocating gigabytes.
constexpr std::uint64_t kMaxHeader = 100u << 20;

DType parse_dtype(const std::string& s, const std::string& path) {
  if (s == "F32") return DType::kF32;
  if (s == "F64") return DType::kF64;
  if (s == "I64") return DType::kI64;
  if (s == "I32") return DType::kI32;
  if (s == "U8") return DType::kU8;
  throw FileError(path, 0, "unsupported safetensors dtype '" + s + "'");
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

std::int64_t numel_of(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI64: return 8;
    case DType::kI32: return 4;
    case DType::kU8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF64: return "F64";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kU8: return "U8";
  }
  return "?";
}

std::int64_t TensorInfo::numel() const { return numel_of(shape); }

void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  std::uint32_t crc = 0;
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second) throw InternalError("duplicate tensor name " + t.name);
    const std::uint64_t bytes = numel_of(t.shape) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    crc = crc32(t.data, bytes, crc);
    offset += bytes;
  }
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  meta[kCrcKey] = std::to_string(crc);
  header["__metadata__"] = meta;
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned (as the
  // reference writer does), which lets readers map tensors in place.
  text.append((8 - (text.size() % 8)) % 8, ' ');

  write_file_atomically(path, [&](std::ostream& out) {
    const std::uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors) {
      const std::uint64_t bytes = numel_of(t.shape) * dtype_size(t.dtype);
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(bytes));
    }
  });
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  std::ifstream& in = in_;
  if (!in) throw FileError(path, 0, "cannot open the checkpoint file");
  in.seekg(0, std::ios::end);
  const std::uint64_t file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char len[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(len), 8))
    throw FileError(path, 0, "not a safetensors file (too short)");
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(len[i]) << (8 * i);
  if (header_size > kMaxHeader || 8 + header_size > file_size)
    throw FileError(path, 0, "corrupt safetensors header length");
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, 0, std::string("corrupt safetensors header: ") + e.what());
  }
  if (!header.is_object()) throw FileError(path, 0, "corrupt safetensors header: not an object");

  const std::uint64_t data_size = file_size - 8 - header_size;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  try {
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [k, v] : value.items()) metadata_[k] = v.get<std::string>();
        continue;
      }
      TensorInfo info;
      info.dtype = parse_dtype(value.at("dtype").get<std::string>(), path);
      info.shape = value.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = value.at("data_offsets").get<std::vector<std::uint64_t>>();
      if (offsets.size() != 2) throw FileError(path, 0, name + ": bad data_offsets");
      info.begin = offsets[0];
      info.end = offsets[1];
      for (auto d : info.shape)
        if (d < 0) throw FileError(path, 0, name + ": negative dimension");
      if (info.end < info.begin || info.end > data_size ||
          info.end - info.begin != info.numel() * dtype_size(info.dtype))
        throw FileError(path, 0, "corrupt safetensors header: tensor '" + name +
                                     "' lies outside the data or has the wrong size");
      ranges.emplace_back(info.begin, info.end);
      tensors_[name] = info;
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, 0, std::string("corrupt safetensors header: ") + e.what());
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw FileError(path, 0, "corrupt safetensors header: overlapping tensors");

  data_start_ = 8 + header_size;
  const auto crc_it = metadata_.find(kCrcKey);
  if (crc_it != metadata_.end()) {
    std::uint64_t covered = 0;
    for (const auto& r : ranges) covered = std::max(covered, r.second);
    std::vector<char> chunk(std::min<std::uint64_t>(covered, 1u << 20));
    std::uint32_t crc = 0;
    for (std::uint64_t done = 0; done < covered;) {
      const std::uint64_t n = std::min<std::uint64_t>(chunk.size(), covered - done);
      if (!in.read(chunk.data(), static_cast<std::streamsize>(n)))
        throw FileError(path, 0, "truncated checkpoint file");
      crc = crc32(chunk.data(), n, crc);
      done += n;
    }
    if (std::to_string(crc) != crc_it->second)
      throw FileError(path, 0, "checksum mismatch: the checkpoint file is corrupted");
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& [name, info] : tensors_) order.emplace_back(info.begin, name);
  std::sort(order.begin(), order.end());
  std::vector<std::string> out;
  for (auto& [offset, name] : order) out.push_back(std::move(name));
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw FileError(path_, 0, "tensor '" + name + "' is missing");
  return it->second;
}

void SafetensorsFile::read_bytes(const std::string& name, std::uint64_t offset, std::uint64_t count,
                                 void* out) const {
  const TensorInfo& t = info(name);
  if (offset > t.end - t.begin || count > t.end - t.begin - offset)
    throw FileError(path_, 0, "read past the end of tensor '" + name + "'");
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(data_start_ + t.begin + offset));
  if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(count)))
    throw FileError(path_, 0, "truncated checkpoint file (reading tensor '" + name + "')");
}

void SafetensorsFile::read_f32(const std::string& name,
                               const std::vector<std::int64_t>& expected_shape, float* out) const {
  const TensorInfo& t = info(name);
  if (t.shape != expected_shape)
    throw FileError(path_, 0, "tensor '" + name + "' has shape " + shape_text(t.shape) +
                                  ", the model expects " + shape_text(expected_shape));
  const std::int64_t n = t.numel();
  if (t.dtype == DType::kF32) {
    read_bytes(name, 0, n * sizeof(float), out);
  } else if (t.dtype == DType::kF64) {
    std::vector<double> v(static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 16)));
    for (std::int64_t i = 0; i < n; i += static_cast<std::int64_t>(v.size())) {
      const std::int64_t m = std::min<std::int64_t>(static_cast<std::int64_t>(v.size()), n - i);
      read_bytes(name, i * sizeof(double), m * sizeof(double), v.data());
      for (std::int64_t k = 0; k < m; ++k) out[i + k] = static_cast<float>(v[k]);
    }
  } else {
    throw FileError(path_, 0, "tensor '" + name + "' is " + dtype_name(t.dtype) + ", not a float");
  }
}

}  // namespace moe::io
