#pragma once
// Segment text as every metric first sees it: UTF-8 decoded to code points, as
// given. sacreBLEU's CLI right-strips every line it reads (METRICS.md §1.1; here
// corpus_io.h's read_segments), but its metrics differ on a segment that still
// ends in whitespace (an inner -nr field, a library caller's string): BLEU and TER
// strip it again (§2.1 step 3, §4.1), chrF keeps it (visible with whitespace on).
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moe::eval {

// Not stripped. Throws moe::InputError "<role> line <index+1>: invalid UTF-8" on
// malformed input.
std::u32string decode_segment(std::string_view utf8_line, const char* role, std::size_t index);

// Checks that every reference stream has as many lines as the hypotheses;
// throws moe::InputError with sacreBLEU's message otherwise.
void check_stream_lengths(std::size_t num_hypotheses,
                          const std::vector<std::vector<std::string>>& reference_streams);

// The references of segment i, one per stream (a view of the streams' strings).
std::vector<std::string_view> segment_references(
    const std::vector<std::vector<std::string>>& reference_streams, std::size_t i);

// Runs scorer.segment_stats(hypothesis, references, index) over every segment:
// one statistics row per hypothesis (N rows). Checks the stream lengths first.
template <typename Scorer>
auto score_segments(Scorer& scorer, const std::vector<std::string>& hypotheses,
                    const std::vector<std::vector<std::string>>& reference_streams) {
  check_stream_lengths(hypotheses.size(), reference_streams);
  using Row = decltype(scorer.segment_stats(std::string_view{}, std::span<const std::string_view>{},
                                            std::size_t{0}));
  std::vector<Row> rows;
  rows.reserve(hypotheses.size());
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const std::vector<std::string_view> refs = segment_references(reference_streams, i);
    rows.push_back(scorer.segment_stats(hypotheses[i], refs, i));
  }
  return rows;
}

}  // namespace moe::eval
