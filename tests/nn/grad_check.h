#pragma once
// Central finite-difference gradient checks in double, shared by the nn and
// model tests (tests/model includes it as "nn/grad_check.h").
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "util/rng.h"

namespace moe::testing {

struct GradCheckResult {
  std::int64_t checked = 0;
  std::int64_t mismatches = 0;
  double max_error = 0;       // max |numeric - analytic|
  std::string first_mismatch; // "index i: numeric a analytic b"
};

// Compares analytic[i] with (loss(v_i + h) - loss(v_i - h)) / 2h for up to
// max_checks indices spread evenly over [0,n) (values[i] is restored).
// An element passes when |numeric - analytic| <= atol + rtol * |numeric|;
// with h = 1e-5 in double the truncation error is ~1e-10, so a wrong gradient
// fails by orders of magnitude.
inline GradCheckResult check_gradient(const std::function<double()>& loss, double* values,
                                      const double* analytic, std::int64_t n,
                                      std::int64_t max_checks = 60, double h = 1e-5,
                                      double rtol = 1e-6, double atol = 1e-8) {
  GradCheckResult r;
  const std::int64_t stride = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, max_checks));
  for (std::int64_t i = 0; i < n; i += stride) {
    const double saved = values[i];
    values[i] = saved + h;
    const double up = loss();
    values[i] = saved - h;
    const double down = loss();
    values[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err = std::abs(numeric - analytic[i]);
    r.max_error = std::max(r.max_error, err);
    ++r.checked;
    if (!(err <= atol + rtol * std::abs(numeric))) {
      if (r.mismatches++ == 0)
        r.first_mismatch = "index " + std::to_string(i) + ": numeric " + std::to_string(numeric) +
                           " analytic " + std::to_string(analytic[i]);
    }
  }
  return r;
}

inline void fill_uniform(TensorView<double> t, Rng& rng, double lo = -1, double hi = 1) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = lo + (hi - lo) * rng.uniform_double();
}

// sum_i y[i] * w[i]: a scalar loss whose gradient wrt y is w.
inline double dot(TensorView<const double> y, TensorView<const double> w) {
  double s = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) s += y[i] * w[i];
  return s;
}

}  // namespace moe::testing

// EXPECT that a GradCheckResult found no mismatch, printing the first one.
#define EXPECT_GRADIENT_OK(result, what)                                              \
  do {                                                                                \
    const auto& r_ = (result);                                                        \
    EXPECT_GT(r_.checked, 0) << (what);                                               \
    EXPECT_EQ(r_.mismatches, 0) << (what) << ": " << r_.first_mismatch                \
                                << " (max error " << r_.max_error << ")";             \
  } while (0)
