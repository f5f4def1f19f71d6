#pragma once
// Learning-rate schedules. `step` counts updates from 0.
//  rsqrt_plateau: lr * rsqrt(max(step, warmup))  (GShard / lingvo SqrtDecay: a flat
//                 warm-up plateau, then 1/sqrt decay; lr 1.0, warmup 10k gives 0.01)
//  inverse_sqrt:  linear ramp lr*(step+1)/warmup for step < warmup, then lr*sqrt(warmup/(step+1))
//                 (fairseq / Marian inverse square root with linear warm-up)
//  constant:      lr
#include <cstdint>

#include "config/recipe.h"

namespace moe::train {

double learning_rate(const config::OptimizerConfig& opt, const config::ScheduleConfig& schedule,
                     std::int64_t step);

}  // namespace moe::train
