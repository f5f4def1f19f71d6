#include "eval/corpus_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::eval {
namespace {

std::vector<std::string> split_lines(const std::string& text, const std::string& name) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text, start, end - start);
    if (!utf8::is_valid(lines.back())) {
      throw FileError(name, static_cast<long>(lines.size()), "invalid UTF-8");
    }
    start = end + 1;
  }
  return lines;
}

std::string trim_ascii(const std::string& s) {
  const char* spaces = " \t\r\v\f";
  const std::size_t first = s.find_first_not_of(spaces);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(spaces) - first + 1);
}

}  // namespace

std::vector<std::string> read_lines(std::istream& in, const std::string& name) {
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw FileError(name, 0, "read error");
  return split_lines(text, name);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, std::string("cannot open file: ") + std::strerror(errno));
  return read_lines(in, path);
}

std::vector<std::vector<std::string>> split_reference_fields(const std::vector<std::string>& lines,
                                                             int count, const std::string& name) {
  std::vector<std::vector<std::string>> streams(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (int k = 0; k + 1 < count; ++k) {
      const std::size_t tab = lines[i].find('\t', start);
      if (tab == std::string::npos) break;
      fields.push_back(lines[i].substr(start, tab - start));
      start = tab + 1;
    }
    fields.push_back(lines[i].substr(start));
    if (static_cast<int>(fields.size()) != count) {
      throw ReferenceFieldCountError(name, static_cast<long>(i + 1),
                                     "expected " + std::to_string(count) + " tab-separated references, found " +
                          std::to_string(fields.size()));
    }
    for (int k = 0; k < count; ++k) streams[k].push_back(std::move(fields[k]));
  }
  return streams;
}

TsvTestSet read_tsv_test_set(const std::string& path) {
  TsvTestSet set;
  const std::vector<std::string> lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::size_t first = line.find('\t');
    const std::size_t second = first == std::string::npos ? first : line.find('\t', first + 1);
    if (second == std::string::npos) {
      throw FileError(path, static_cast<long>(i + 1),
                      "expected lang<TAB>source<TAB>reference (3 tab-separated fields)");
    }
    std::string language = trim_ascii(line.substr(0, first));
    if (language.empty()) throw FileError(path, static_cast<long>(i + 1), "empty language code");
    set.languages.push_back(std::move(language));
    set.sources.push_back(line.substr(first + 1, second - first - 1));
    std::string reference = line.substr(second + 1);
    if (!reference.empty() && reference.back() == '\r') reference.pop_back();
    set.references.push_back(std::move(reference));
  }
  return set;
}

std::vector<std::string> read_language_codes(const std::string& path) {
  std::vector<std::string> codes = read_lines(path);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    codes[i] = trim_ascii(codes[i]);
    if (codes[i].empty()) throw FileError(path, static_cast<long>(i + 1), "empty language code");
  }
  return codes;
}

}  // namespace moe::eval
