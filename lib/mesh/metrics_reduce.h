#pragma once
// Combining per-rank training statistics (loss, token counts, expert overflow
// rates) for the log line rank 0 prints.
#include <span>
#include <vector>

#include "util/collectives.h"

namespace moe {

enum class MetricReduction { kSum, kMean, kMax, kMin };

// values: [n] this rank's statistics; how: [n], one reduction per value.
// Returns [n] on `root` (rank within `group`), an empty vector elsewhere.
// Collective: every rank of `group` calls it with the same n and `how`.
// Works over any Collectives (only all_to_all of doubles is used: every rank
// sends its n values to root, O(size * n) doubles, meant for a handful of
// numbers per log line) and reduces in rank order, so results do not depend
// on the MPI library's reduction tree. max/min propagate NaN.
std::vector<double> reduce_metrics_to_root(Collectives& group, std::span<const double> values,
                                           std::span<const MetricReduction> how, int root = 0);

}  // namespace moe
