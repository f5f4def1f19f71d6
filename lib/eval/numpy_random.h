#pragma once
// NumPy's default_rng(seed) stream (SeedSequence -> PCG64) and the two draws
// sacreBLEU's resampling makes from it: Generator.integers(0, n) (Lemire's
// bounded integers, as used by choice(n, replace=True)) and
// Generator.integers(2, dtype=bool). Reimplemented from NumPy's documented
// algorithms and checked against NumPy 1.24's output (tests/eval/numpy_random_test.cpp),
// so bootstrap resamples and coin flips are the ones sacreBLEU draws.
#include <cstdint>
#include <vector>

namespace moe::eval {

class NumpyGenerator {
 public:
  // np.random.default_rng(seed) for a non-negative integer seed.
  explicit NumpyGenerator(std::uint64_t seed);
  // default_rng() from OS entropy (SACREBLEU_SEED=none).
  static NumpyGenerator from_os_entropy();

  std::uint64_t next_u64();  // bit_generator.random_raw()
  std::uint32_t next_u32();  // low half of a 64-bit draw, then its high half

  // `count` draws of Generator.integers(0, bound) (bound >= 1), appended to `out`.
  void integers(std::uint64_t bound, std::size_t count, std::vector<std::uint64_t>& out);
  // `count` draws of one Generator.integers(2, size=count, dtype=bool) call, appended to `out`.
  void booleans(std::size_t count, std::vector<bool>& out);

 private:
  explicit NumpyGenerator(const std::vector<std::uint32_t>& entropy);
  void seed_pcg64(std::uint64_t state_high, std::uint64_t state_low, std::uint64_t inc_high,
                  std::uint64_t inc_low);
  void step();

  __extension__ typedef unsigned __int128 Uint128;
  Uint128 state_ = 0;
  Uint128 increment_ = 0;
  bool has_u32_ = false;
  std::uint32_t buffered_u32_ = 0;
};

// The booleans of one Generator.integers(2, size=(rows, cols), dtype=bool) call,
// drawn lazily in C order: each 32-bit draw serves 32 booleans, lowest bit first.
class NumpyBooleanFill {
 public:
  explicit NumpyBooleanFill(NumpyGenerator& generator) : generator_(generator) {}
  bool next();

 private:
  NumpyGenerator& generator_;
  std::uint32_t buffer_ = 0;
  int bits_left_ = 0;
};

// NumPy's pairwise summation (np.sum / np.mean of a float64 array).
double numpy_pairwise_sum(const double* values, std::size_t n);

}  // namespace moe::eval
