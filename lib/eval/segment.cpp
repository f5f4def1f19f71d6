#include "eval/segment.h"

#include <stdexcept>

#include "util/error.h"
#include "util/utf8.h"

namespace moe::eval {

std::u32string decode_segment(std::string_view utf8_line, const char* role, std::size_t index) {
  try {
    return utf8::decode(utf8_line);
  } catch (const std::invalid_argument&) {
    throw InputError(std::string(role) + " line " + std::to_string(index + 1) +
                     ": invalid UTF-8");
  }
}

void check_stream_lengths(std::size_t num_hypotheses,
                          const std::vector<std::vector<std::string>>& reference_streams) {
  if (reference_streams.empty()) throw InputError("no reference stream given");
  for (const auto& stream : reference_streams) {
    if (stream.size() != num_hypotheses) {
      throw InputError("System and reference streams have different lengths.");
    }
  }
}

std::vector<std::string_view> segment_references(
    const std::vector<std::vector<std::string>>& reference_streams, std::size_t i) {
  std::vector<std::string_view> refs;
  refs.reserve(reference_streams.size());
  for (const auto& stream : reference_streams) refs.emplace_back(stream[i]);
  return refs;
}

}  // namespace moe::eval
