#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace moe::train {

double learning_rate(const config::OptimizerConfig& opt, const config::ScheduleConfig& schedule,
                     std::int64_t step) {
  const double warmup = static_cast<double>(schedule.warmup_steps);
  switch (schedule.name) {
    case config::ScheduleKind::kRsqrtPlateau:
      return opt.lr / std::sqrt(std::max({static_cast<double>(step), warmup, 1.0}));
    case config::ScheduleKind::kInverseSqrt: {
      const double t = static_cast<double>(step) + 1.0;
      if (warmup <= 0) return opt.lr / std::sqrt(t);
      return t < warmup ? opt.lr * t / warmup : opt.lr * std::sqrt(warmup / t);
    }
    case config::ScheduleKind::kConstant:
      return opt.lr;
  }
  return opt.lr;
}

}  // namespace moe::train
