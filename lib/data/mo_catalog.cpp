#include "data/mo_catalog.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace moe::data {
namespace {

constexpr std::uint32_t kMagic = 0x950412de;
constexpr std::uint32_t kMagicSwapped = 0xde120495;

class MoBytes {
 public:
  MoBytes(std::string_view bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {
    if (bytes.size() < 28) fail("too short for a .mo header (" + std::to_string(bytes.size()) + " bytes)");
    const std::uint32_t magic = raw_u32(0);
    if (magic == kMagic) {
      swapped_ = false;
    } else if (magic == kMagicSwapped) {
      swapped_ = true;
    } else {
      fail("not a gettext .mo file (bad magic number)");
    }
  }

  std::uint32_t u32(std::size_t offset) const {
    if (offset + 4 > bytes_.size()) fail("offset " + std::to_string(offset) + " past the end of the file");
    const std::uint32_t v = raw_u32(offset);
    if (!swapped_) return v;
    return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
  }

  // The string described by the (length, offset) descriptor at `table + 8*i`.
  std::string_view string_at(std::uint32_t table, std::uint32_t i) const {
    const std::size_t descriptor = std::size_t{table} + 8 * std::size_t{i};
    const std::uint32_t length = u32(descriptor);
    const std::uint32_t offset = u32(descriptor + 4);
    if (std::size_t{offset} + length > bytes_.size())
      fail("string " + std::to_string(i) + " lies outside the file");
    return bytes_.substr(offset, length);
  }

  [[noreturn]] void fail(const std::string& what) const { throw FileError(origin_, 0, what); }

 private:
  std::uint32_t raw_u32(std::size_t offset) const {
    // Host order assembled byte by byte (the file is either order; we swap after).
    std::uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(bytes_[offset + k]);
    return v;
  }

  std::string_view bytes_;
  const std::string& origin_;
  bool swapped_ = false;
};

std::vector<std::string> split_nul(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nul = s.find('\0', start);
    parts.emplace_back(s.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) return parts;
    start = nul + 1;
  }
}

// "Key: value" line of the header entry, value trimmed; empty if absent.
std::string header_field(std::string_view header, std::string_view key) {
  std::size_t line_start = 0;
  while (line_start < header.size()) {
    std::size_t line_end = header.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = header.size();
    const std::string_view line = header.substr(line_start, line_end - line_start);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view value = line.substr(key.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
      return std::string(value);
    }
    line_start = line_end + 1;
  }
  return {};
}

}  // namespace

MoCatalog parse_mo(std::string_view bytes, const std::string& origin) {
  const MoBytes mo(bytes, origin);
  const std::uint32_t count = mo.u32(8);
  const std::uint32_t originals = mo.u32(12);
  const std::uint32_t translations = mo.u32(16);
  if (std::size_t{count} * 8 > bytes.size()) mo.fail("claims " + std::to_string(count) + " strings");

  MoCatalog catalog;
  catalog.entries.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string_view original = mo.string_at(originals, i);
    const std::string_view translated = mo.string_at(translations, i);
    if (original.empty()) {
      const std::string content_type = header_field(translated, "Content-Type");
      const std::size_t at = content_type.find("charset=");
      if (at != std::string::npos) {
        std::string charset = content_type.substr(at + 8);
        const std::size_t end = charset.find_first_of("; ");
        if (end != std::string::npos) charset.resize(end);
        if (!charset.empty() && charset != "CHARSET") catalog.charset = charset;
      }
      catalog.plural_forms = header_field(translated, "Plural-Forms");
      catalog.language = header_field(translated, "Language");
      continue;
    }
    MoEntry entry;
    std::string_view key = original;
    if (const std::size_t eot = key.find('\x04'); eot != std::string_view::npos) {
      entry.context = std::string(key.substr(0, eot));
      key.remove_prefix(eot + 1);
    }
    if (const std::size_t nul = key.find('\0'); nul != std::string_view::npos) {
      entry.msgid = std::string(key.substr(0, nul));
      entry.msgid_plural = std::string(key.substr(nul + 1));
    } else {
      entry.msgid = std::string(key);
    }
    entry.msgstrs = split_nul(translated);
    catalog.entries.push_back(std::move(entry));
  }
  return catalog;
}

std::string serialize_mo(const MoCatalog& catalog, bool big_endian) {
  std::vector<std::pair<std::string, std::string>> strings;  // (key, translation)
  std::string header = "Content-Type: text/plain; charset=" + catalog.charset + "\n";
  if (!catalog.plural_forms.empty()) header += "Plural-Forms: " + catalog.plural_forms + "\n";
  if (!catalog.language.empty()) header += "Language: " + catalog.language + "\n";
  strings.emplace_back("", header);
  for (const MoEntry& entry : catalog.entries) {
    std::string key = entry.context.empty() ? entry.msgid : entry.context + '\x04' + entry.msgid;
    if (!entry.msgid_plural.empty()) key += '\0' + entry.msgid_plural;
    std::string translation;
    for (std::size_t i = 0; i < entry.msgstrs.size(); ++i) translation += (i ? std::string(1, '\0') : "") + entry.msgstrs[i];
    strings.emplace_back(std::move(key), std::move(translation));
  }
  std::sort(strings.begin(), strings.end());

  std::string out;
  auto put = [&](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out += static_cast<char>(v >> (big_endian ? 24 - 8 * k : 8 * k));
  };
  const auto count = static_cast<std::uint32_t>(strings.size());
  const std::uint32_t originals = 28, translations = originals + 8 * count;
  std::uint32_t data = translations + 8 * count;
  put(kMagic), put(0), put(count), put(originals), put(translations), put(0), put(data);
  std::string blob;
  for (int side = 0; side < 2; ++side) {
    for (const auto& s : strings) {
      const std::string& text = side == 0 ? s.first : s.second;
      put(static_cast<std::uint32_t>(text.size()));
      put(data + static_cast<std::uint32_t>(blob.size()));
      blob += text;
      blob += '\0';
    }
  }
  return out + blob;
}

MoCatalog read_mo_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, "cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_mo(buffer.str(), path);
}

}  // namespace moe::data
