#include "eval/numpy_random.h"

#include <array>
#include <random>

namespace moe::eval {
namespace {

// SeedSequence's hashing constants (numpy.random.bit_generator).
constexpr std::uint32_t kInitA = 0x43b0d7e5;
constexpr std::uint32_t kMultA = 0x931e8875;
constexpr std::uint32_t kInitB = 0x8b51f9dd;
constexpr std::uint32_t kMultB = 0x58f38ded;
constexpr std::uint32_t kMixMultL = 0xca01f9dd;
constexpr std::uint32_t kMixMultR = 0x4973f715;
constexpr int kXShift = 16;
constexpr std::size_t kPoolSize = 4;

class HashMix {
 public:
  std::uint32_t operator()(std::uint32_t value) {
    value ^= hash_const_;
    hash_const_ *= kMultA;
    value *= hash_const_;
    return value ^ (value >> kXShift);
  }

 private:
  std::uint32_t hash_const_ = kInitA;
};

std::uint32_t mix(std::uint32_t x, std::uint32_t y) {
  std::uint32_t result = kMixMultL * x - kMixMultR * y;
  return result ^ (result >> kXShift);
}

// SeedSequence(entropy).generate_state(4, uint64) as 8 little-endian 32-bit words.
std::array<std::uint32_t, 8> seed_sequence_state(const std::vector<std::uint32_t>& entropy) {
  std::array<std::uint32_t, kPoolSize> pool{};
  HashMix hashmix;
  for (std::size_t i = 0; i < kPoolSize; ++i) pool[i] = hashmix(i < entropy.size() ? entropy[i] : 0);
  for (std::size_t src = 0; src < kPoolSize; ++src) {
    for (std::size_t dst = 0; dst < kPoolSize; ++dst) {
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
    }
  }
  for (std::size_t src = kPoolSize; src < entropy.size(); ++src) {
    for (std::size_t dst = 0; dst < kPoolSize; ++dst) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  }
  std::array<std::uint32_t, 8> state{};
  std::uint32_t hash_const = kInitB;
  for (std::size_t i = 0; i < state.size(); ++i) {
    std::uint32_t value = pool[i % kPoolSize] ^ hash_const;
    hash_const *= kMultB;
    value *= hash_const;
    state[i] = value ^ (value >> kXShift);
  }
  return state;
}

std::vector<std::uint32_t> entropy_words(std::uint64_t seed) {
  std::vector<std::uint32_t> words = {static_cast<std::uint32_t>(seed)};
  if (seed >> 32) words.push_back(static_cast<std::uint32_t>(seed >> 32));
  return words;
}

}  // namespace

NumpyGenerator::NumpyGenerator(std::uint64_t seed) : NumpyGenerator(entropy_words(seed)) {}

NumpyGenerator::NumpyGenerator(const std::vector<std::uint32_t>& entropy) {
  const std::array<std::uint32_t, 8> s = seed_sequence_state(entropy);
  auto word = [&](int i) { return static_cast<std::uint64_t>(s[2 * i]) | (static_cast<std::uint64_t>(s[2 * i + 1]) << 32); };
  seed_pcg64(word(0), word(1), word(2), word(3));
}

NumpyGenerator NumpyGenerator::from_os_entropy() {
  std::random_device device;
  std::vector<std::uint32_t> entropy(4);
  for (std::uint32_t& w : entropy) w = device();
  return NumpyGenerator(entropy);
}

void NumpyGenerator::seed_pcg64(std::uint64_t state_high, std::uint64_t state_low,
                                std::uint64_t inc_high, std::uint64_t inc_low) {
  const Uint128 init_state = (static_cast<Uint128>(state_high) << 64) | state_low;
  const Uint128 init_seq = (static_cast<Uint128>(inc_high) << 64) | inc_low;
  state_ = 0;
  increment_ = (init_seq << 1) | 1;
  step();
  state_ += init_state;
  step();
}

void NumpyGenerator::step() {
  const Uint128 multiplier =
      (static_cast<Uint128>(0x2360ed051fc65da4ULL) << 64) | 0x4385df649fccf645ULL;
  state_ = state_ * multiplier + increment_;
}

std::uint64_t NumpyGenerator::next_u64() {
  step();
  const auto high = static_cast<std::uint64_t>(state_ >> 64);
  const auto low = static_cast<std::uint64_t>(state_);
  const unsigned rotation = static_cast<unsigned>(state_ >> 122);
  const std::uint64_t x = high ^ low;
  return (x >> rotation) | (x << ((64 - rotation) & 63));
}

std::uint32_t NumpyGenerator::next_u32() {
  if (has_u32_) {
    has_u32_ = false;
    return buffered_u32_;
  }
  const std::uint64_t next = next_u64();
  has_u32_ = true;
  buffered_u32_ = static_cast<std::uint32_t>(next >> 32);
  return static_cast<std::uint32_t>(next);
}

void NumpyGenerator::integers(std::uint64_t bound, std::size_t count, std::vector<std::uint64_t>& out) {
  const std::uint64_t range = bound - 1;  // NumPy's inclusive "rng"
  for (std::size_t i = 0; i < count; ++i) {
    if (range == 0) {
      out.push_back(0);
    } else if (range < 0xFFFFFFFFULL) {
      // Lemire's multiply-shift with rejection on 32-bit draws.
      const auto range_excl = static_cast<std::uint32_t>(range) + 1;
      std::uint64_t m = static_cast<std::uint64_t>(next_u32()) * range_excl;
      auto leftover = static_cast<std::uint32_t>(m);
      if (leftover < range_excl) {
        const std::uint32_t threshold = (0xFFFFFFFFU - static_cast<std::uint32_t>(range)) % range_excl;
        while (leftover < threshold) {
          m = static_cast<std::uint64_t>(next_u32()) * range_excl;
          leftover = static_cast<std::uint32_t>(m);
        }
      }
      out.push_back(m >> 32);
    } else if (range == 0xFFFFFFFFULL) {
      out.push_back(next_u32());
    } else {
      const std::uint64_t range_excl = range + 1;  // range < 2^64 - 1 for any bound here
      Uint128 m = static_cast<Uint128>(next_u64()) * range_excl;
      auto leftover = static_cast<std::uint64_t>(m);
      if (leftover < range_excl) {
        const std::uint64_t threshold = (~std::uint64_t{0} - range) % range_excl;
        while (leftover < threshold) {
          m = static_cast<Uint128>(next_u64()) * range_excl;
          leftover = static_cast<std::uint64_t>(m);
        }
      }
      out.push_back(static_cast<std::uint64_t>(m >> 64));
    }
  }
}

void NumpyGenerator::booleans(std::size_t count, std::vector<bool>& out) {
  NumpyBooleanFill fill(*this);
  for (std::size_t i = 0; i < count; ++i) out.push_back(fill.next());
}

bool NumpyBooleanFill::next() {
  if (bits_left_ == 0) {
    buffer_ = generator_.next_u32();
    bits_left_ = 31;
  } else {
    buffer_ >>= 1;
    --bits_left_;
  }
  return (buffer_ & 1U) != 0;
}

double numpy_pairwise_sum(const double* values, std::size_t n) {
  constexpr std::size_t kBlock = 128;
  if (n < 8) {
    double sum = 0.0;  // NumPy starts from -0.0; identical for these sums
    for (std::size_t i = 0; i < n; ++i) sum += values[i];
    return sum;
  }
  if (n <= kBlock) {
    std::array<double, 8> r;
    for (std::size_t k = 0; k < 8; ++k) r[k] = values[k];
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8) {
      for (std::size_t k = 0; k < 8; ++k) r[k] += values[i + k];
    }
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += values[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return numpy_pairwise_sum(values, half) + numpy_pairwise_sum(values + half, n - half);
}

}  // namespace moe::eval
