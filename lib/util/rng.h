#pragma once
// Seeded random streams. Every consumer of randomness (data order, init,
// dropout, routing noise) derives its own stream from the run seed and a
// stream name, so adding draws in one place never shifts another's numbers.
#include <cstdint>
#include <random>
#include <string_view>

namespace moe {

// SplitMix64 finaliser: a good 64-bit mix for deriving independent seeds.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// FNV-1a, for turning stream names into seeds (stable across platforms).
constexpr std::uint64_t hash_name(std::string_view name) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return h;
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(mix64(seed)) {}
  // A stream for `name` (and an index, e.g. a layer or step) under `seed`.
  Rng(std::uint64_t seed, std::string_view name, std::uint64_t index = 0)
      : engine_(mix64(mix64(seed ^ hash_name(name)) + index)) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1), 24 random bits: identical on every platform, unlike
  // std::uniform_real_distribution whose algorithm is unspecified.
  float uniform() { return static_cast<float>(engine_() >> 40) * 0x1.0p-24f; }
  double uniform_double() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : engine_() % n; }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace moe
