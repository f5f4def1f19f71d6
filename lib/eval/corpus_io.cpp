#include "eval/corpus_io.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <iterator>

#include "eval/unicode.h"
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

std::vector<std::string> rstrip_each(std::vector<std::string> lines) {
  for (std::string& line : lines) line.resize(python_rstrip_utf8(line).size());
  return lines;
}

std::vector<std::string> split_on_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    fields.push_back(line.substr(start, tab - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

std::string trim_ascii(const std::string& s) {
  const char* spaces = " \t\r\v\f";
  const std::size_t first = s.find_first_not_of(spaces);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(spaces) - first + 1);
}

// Our own formats (the --tsv test set, the --langs file) may come from an
// editor that starts the file with a byte-order mark; it is not part of the
// first language code. Hypotheses and references keep theirs, as in sacreBLEU.
void drop_byte_order_mark(std::vector<std::string>& lines) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (!lines.empty() && std::string_view(lines.front()).substr(0, kBom.size()) == kBom) {
    lines.front().erase(0, kBom.size());
  }
}

}  // namespace

std::vector<std::string> read_lines(std::istream& in, const std::string& name) {
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    // A file stream reports a failed read(2) by throwing from underflow().
    throw FileError(name, 0, std::string("read error: ") + std::strerror(errno));
  }
  if (in.bad()) throw FileError(name, 0, "read error");
  return split_lines(text, name);
}

std::vector<std::string> read_lines(const std::string& path) {
  // A directory opens as a file stream on Linux and only fails on the first read.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path, 0, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, 0, std::string("cannot open file: ") + std::strerror(errno));
  return read_lines(in, path);
}

std::vector<std::string> read_segments(const std::string& path) {
  return rstrip_each(read_lines(path));
}

std::vector<std::string> read_segments(std::istream& in, const std::string& name) {
  return rstrip_each(read_lines(in, name));
}

std::vector<std::vector<std::string>> split_reference_fields(const std::vector<std::string>& lines,
                                                             int count, const std::string& name) {
  std::vector<std::vector<std::string>> streams(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // sacreBLEU: line.rstrip().split('\t', count - 1). The rstrip can remove a
    // trailing tab, and with it a field.
    const std::string_view line = python_rstrip_utf8(lines[i]);
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (int k = 0; k + 1 < count; ++k) {
      const std::size_t tab = line.find('\t', start);
      if (tab == std::string_view::npos) break;
      fields.emplace_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    fields.emplace_back(line.substr(start));
    if (static_cast<int>(fields.size()) != count) {
      throw ReferenceFieldCountError(name, static_cast<long>(i + 1),
                                     "expected " + std::to_string(count) +
                                         " tab-separated references, found " +
                                         std::to_string(fields.size()));
    }
    for (int k = 0; k < count; ++k) streams[k].push_back(std::move(fields[k]));
  }
  return streams;
}

std::vector<std::vector<std::string>> split_system_fields(const std::vector<std::string>& lines,
                                                          const std::string& name) {
  const std::string_view first = lines.empty() ? std::string_view() : python_rstrip_utf8(lines[0]);
  std::vector<std::vector<std::string>> systems;
  for (std::string& field : split_on_tabs(std::string(first))) {
    systems.push_back({std::move(field)});
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = split_on_tabs(std::string(python_rstrip_utf8(lines[i])));
    if (fields.size() != systems.size()) {
      throw SystemFieldCountError(name, static_cast<long>(i + 1),
                                  "the number of tab-delimited fields differs across lines (" +
                                      std::to_string(systems.size()) + " on line 1, " +
                                      std::to_string(fields.size()) + " here)");
    }
    for (std::size_t s = 0; s < fields.size(); ++s) {
      fields[s].resize(python_rstrip_utf8(fields[s]).size());
      systems[s].push_back(std::move(fields[s]));
    }
  }
  return systems;
}

TsvTestSet read_tsv_test_set(const std::string& path) {
  TsvTestSet set;
  std::vector<std::string> lines = read_lines(path);
  drop_byte_order_mark(lines);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto line_number = static_cast<long>(i + 1);
    std::vector<std::string> fields = split_on_tabs(lines[i]);
    if (fields.size() != 3) {
      throw FileError(path, line_number,
                      "expected lang<TAB>source<TAB>reference (3 tab-separated fields), found " +
                          std::to_string(fields.size()));
    }
    std::string language = trim_ascii(fields[0]);
    if (language.empty()) throw FileError(path, line_number, "empty language code");
    set.languages.push_back(std::move(language));
    set.sources.push_back(std::move(fields[1]));
    fields[2].resize(python_rstrip_utf8(fields[2]).size());
    set.references.push_back(std::move(fields[2]));
  }
  return set;
}

std::vector<std::string> read_language_codes(const std::string& path) {
  std::vector<std::string> codes = read_lines(path);
  drop_byte_order_mark(codes);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    codes[i] = trim_ascii(codes[i]);
    if (codes[i].empty()) throw FileError(path, static_cast<long>(i + 1), "empty language code");
  }
  return codes;
}

}  // namespace moe::eval
