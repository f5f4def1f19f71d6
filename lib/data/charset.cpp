#include "data/charset.h"

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::data {

CharsetDecoder::CharsetDecoder(const std::string& charset) {
  std::string upper = charset;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper == "UTF-8" || upper == "UTF8" || upper == "ASCII" || upper == "US-ASCII") return;
  handle_ = iconv_open("UTF-8", charset.c_str());
  if (handle_ == reinterpret_cast<iconv_t>(-1)) {
    handle_ = nullptr;
    throw InputError("unknown charset '" + charset + "'");
  }
}

CharsetDecoder::~CharsetDecoder() {
  if (handle_) iconv_close(handle_);
}

std::optional<std::string> CharsetDecoder::to_utf8(std::string_view bytes) {
  if (!handle_) {
    if (!utf8::is_valid(bytes)) return std::nullopt;
    return std::string(bytes);
  }
  iconv(handle_, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  std::string out(bytes.size() * 4 + 16, '\0');
  char* in_ptr = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char* out_ptr = out.data();
  std::size_t out_left = out.size();
  while (in_left > 0) {
    if (iconv(handle_, &in_ptr, &in_left, &out_ptr, &out_left) == static_cast<std::size_t>(-1)) {
      if (errno != E2BIG) return std::nullopt;
      const std::size_t used = out.size() - out_left;
      out.resize(out.size() * 2);
      out_ptr = out.data() + used;
      out_left = out.size() - used;
    }
  }
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace moe::data
