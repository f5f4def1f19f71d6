#include "data/line_codec.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <istream>
#include <ostream>
#include <thread>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::data {
namespace {

constexpr std::size_t kChunkLines = 8192;

std::vector<std::string_view> split_columns(std::string_view line) {
  std::vector<std::string_view> columns;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    columns.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return columns;
    start = tab + 1;
  }
}

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

template <typename ColumnFn>
std::string map_columns(std::string_view line, const LineCodec& codec, ColumnFn fn) {
  if (!utf8::is_valid(line)) throw InputError("invalid UTF-8");
  const std::vector<std::string_view> columns = split_columns(line);
  for (int c : codec.columns)
    if (c > static_cast<int>(columns.size()))
      throw InputError("column " + std::to_string(c) + " is asked for, but the line has only " +
                       std::to_string(columns.size()) + (columns.size() == 1 ? " column" : " columns"));
  int last_chosen = 0;
  for (int c = 1; c <= static_cast<int>(columns.size()); ++c)
    if (codec.columns.empty() || std::find(codec.columns.begin(), codec.columns.end(), c) != codec.columns.end())
      last_chosen = c;
  std::string out;
  for (int c = 1; c <= static_cast<int>(columns.size()); ++c) {
    if (c > 1) out += '\t';
    const bool chosen = codec.columns.empty() ||
                        std::find(codec.columns.begin(), codec.columns.end(), c) != codec.columns.end();
    if (!chosen) {
      out.append(columns[c - 1]);
      continue;
    }
    const Vocab& vocab = (codec.last_vocab && c == last_chosen && last_chosen > 1) ? *codec.last_vocab : *codec.vocab;
    out += fn(columns[c - 1], vocab);
  }
  return out;
}

}  // namespace

std::string encode_line(std::string_view line, const LineCodec& codec) {
  return map_columns(line, codec, [&](std::string_view text, const Vocab& vocab) {
    std::string out;
    if (codec.format == TokenFormat::kIds) {
      for (int id : vocab.encode_ids(text)) out += (out.empty() ? "" : " ") + std::to_string(id);
    } else {
      for (const auto& piece : vocab.encode_pieces(text)) out += (out.empty() ? "" : " ") + piece;
    }
    return out;
  });
}

std::string decode_line(std::string_view line, const LineCodec& codec) {
  return map_columns(line, codec, [&](std::string_view text, const Vocab& vocab) {
    const std::vector<std::string_view> tokens = split_spaces(text);
    if (codec.format == TokenFormat::kPieces)
      return vocab.decode_pieces(std::vector<std::string>(tokens.begin(), tokens.end()));
    std::vector<int> ids;
    for (std::string_view token : tokens) {
      int id = 0;
      const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), id);
      if (error != std::errc() || end != token.data() + token.size())
        throw InputError("'" + std::string(token) + "' is not an id");
      ids.push_back(id);
    }
    return vocab.decode_ids(ids);
  });
}

void transform_lines(std::istream& in, std::ostream& out, int threads, const std::string& origin,
                     const std::function<std::string(std::string_view)>& transform) {
  std::vector<std::string> lines, results;
  long first_line_number = 1;
  for (;;) {
    lines.clear();
    std::string line;
    errno = 0;
    while (lines.size() < kChunkLines && std::getline(in, line)) lines.push_back(std::move(line));
    // A failed read(2) ends getline like the end of the input does, but sets badbit.
    if (in.bad())
      throw FileError(origin, first_line_number + static_cast<long>(lines.size()),
                      errno != 0 ? std::string("read error: ") + std::strerror(errno) : "read error");
    if (lines.empty()) return;
    results.assign(lines.size(), std::string());
    std::atomic<std::size_t> next{0};
    std::vector<std::exception_ptr> errors(lines.size());
    auto worker = [&] {
      for (std::size_t i = next++; i < lines.size(); i = next++) {
        try {
          results[i] = transform(lines[i]);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    };
    const int workers_wanted = std::max(1, std::min<int>(threads, static_cast<int>(lines.size() / 64 + 1)));
    std::vector<std::thread> workers;
    for (int t = 1; t < workers_wanted; ++t) workers.emplace_back(worker);
    worker();
    for (auto& w : workers) w.join();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (errors[i]) {
        try {
          std::rethrow_exception(errors[i]);
        } catch (const InputError& e) {
          throw FileError(origin, first_line_number + static_cast<long>(i), e.what());
        }
      }
      out << results[i] << '\n';
    }
    if (!out) return;  // nowhere to write: the caller reports it, reading on is wasted work
    first_line_number += static_cast<long>(lines.size());
  }
}

}  // namespace moe::data
