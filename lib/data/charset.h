#pragma once
// Decoding catalog strings from their declared charset to UTF-8 with glibc's
// iconv. One decoder per catalog: an iconv handle is not thread-safe.
#include <iconv.h>

#include <optional>
#include <string>
#include <string_view>

namespace moe::data {

class CharsetDecoder {
 public:
  // Throws InputError naming the charset if iconv does not know it.
  explicit CharsetDecoder(const std::string& charset);
  ~CharsetDecoder();
  CharsetDecoder(const CharsetDecoder&) = delete;
  CharsetDecoder& operator=(const CharsetDecoder&) = delete;

  // UTF-8 text, or nullopt if `bytes` is not valid in the charset.
  std::optional<std::string> to_utf8(std::string_view bytes);
  bool is_utf8() const { return handle_ == nullptr; }

 private:
  iconv_t handle_ = nullptr;  // null for UTF-8 input (validated, not converted)
};

}  // namespace moe::data
