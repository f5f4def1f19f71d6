#pragma once
// Test helper: one segment's statistics from a fresh scorer.
#include <string>
#include <string_view>
#include <vector>

namespace moe::eval::testing {

template <typename Scorer, typename Options>
auto segment_stats_for(const std::string& hyp, const std::vector<std::string>& refs,
                       const Options& options) {
  Scorer scorer(options);
  const std::vector<std::string_view> views(refs.begin(), refs.end());
  return scorer.segment_stats(hyp, views);
}

}  // namespace moe::eval::testing
