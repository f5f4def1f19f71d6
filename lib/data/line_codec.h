#pragma once
// `moe-tokenize encode|decode` on text streams: each line is TSV; only the
// chosen text columns are encoded (to space-separated pieces or ids) or
// decoded, the others pass through. Lines are processed in parallel chunks
// and written in input order.
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "data/vocab.h"

namespace moe::data {

enum class TokenFormat { kPieces, kIds };

struct LineCodec {
  const Vocab* vocab = nullptr;         // for every chosen column...
  const Vocab* last_vocab = nullptr;    // ...except the last one, when set (a separate English model)
  std::vector<int> columns;             // 1-based columns to transform; empty = all
  TokenFormat format = TokenFormat::kPieces;
};

// Both throw InputError when the line is not valid UTF-8 or has fewer
// columns than codec.columns asks for.
std::string encode_line(std::string_view line, const LineCodec& codec);
// Also throws InputError on an id outside the vocabulary or a non-numeric id.
std::string decode_line(std::string_view line, const LineCodec& codec);

// Applies `transform` to every line of `in` on `threads` threads, writing
// results to `out` in input order. An InputError from `transform` becomes a
// FileError naming `origin` and the line number, and so does a read error on
// `in` (badbit: never taken for the end of the input). Stops after a chunk once
// `out` has failed (the caller checks `out`).
void transform_lines(std::istream& in, std::ostream& out, int threads, const std::string& origin,
                     const std::function<std::string(std::string_view)>& transform);

}  // namespace moe::data
