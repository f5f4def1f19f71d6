#include "mesh/metrics_reduce.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace moe {

std::vector<double> reduce_metrics_to_root(Collectives& group, std::span<const double> values,
                                           std::span<const MetricReduction> how, int root) {
  MOE_CHECK(values.size() == how.size(), "one MetricReduction per value");
  MOE_CHECK(root >= 0 && root < group.size(), "metrics root " + std::to_string(root) +
                                                  " outside group of " +
                                                  std::to_string(group.size()));
  const std::size_t n = values.size();
  const std::size_t ranks = static_cast<std::size_t>(group.size());
  // Only the block addressed to root carries data; the interface has no
  // gather-to-one, and all_to_all with zero-filled blocks is one.
  std::vector<double> send(ranks * n, 0.0), recv(ranks * n, 0.0);
  std::copy(values.begin(), values.end(), send.begin() + static_cast<std::ptrdiff_t>(root * n));
  group.all_to_all(send.data(), recv.data(), n);
  if (group.rank() != root) return {};

  std::vector<double> result(recv.begin(), recv.begin() + static_cast<std::ptrdiff_t>(n));
  for (std::size_t r = 1; r < ranks; ++r) {
    for (std::size_t i = 0; i < n; ++i) {
      const double v = recv[r * n + i];
      switch (how[i]) {
        case MetricReduction::kSum:
        case MetricReduction::kMean: result[i] += v; break;
        // A NaN (a diverged rank) must reach the log, not lose a comparison.
        case MetricReduction::kMax:
          result[i] = std::isnan(v) || v > result[i] ? v : result[i];
          break;
        case MetricReduction::kMin:
          result[i] = std::isnan(v) || v < result[i] ? v : result[i];
          break;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (how[i] == MetricReduction::kMean) result[i] /= static_cast<double>(ranks);
  return result;
}

}  // namespace moe
