#pragma once
// 16-float vectors for the hand-written float kernels (row_gemm, the
// decoding-step attention and log-softmax): GCC/Clang vector extensions, one
// AVX-512 register with -march=native on this project's machines, split by
// the compiler into narrower registers elsewhere. Every function computes
// lane by lane in a fixed order, so results do not depend on the thread count
// or on which other rows share a call.
#include <cstdint>
#include <cstring>

namespace moe::simd {

typedef float V16 __attribute__((vector_size(64)));
typedef std::int32_t I16 __attribute__((vector_size(64)));

inline V16 load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, V16 v) { std::memcpy(p, &v, sizeof v); }
inline V16 splat(float x) { return V16{} + x; }

// Sum of the 16 lanes, as a fixed tree (halves added pairwise).
inline float sum(V16 v) {
  const V16 a = v + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  const V16 b = a + __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3);
  const V16 c = b + __builtin_shufflevector(b, b, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1);
  return c[0] + c[1];
}

inline V16 max(V16 a, V16 b) { return a > b ? a : b; }

inline float max(V16 v) {
  const V16 a = max(v, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  const V16 b = max(a, __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  const V16 c = max(b, __builtin_shufflevector(b, b, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  return c[0] > c[1] ? c[0] : c[1];
}

// exp(x) lane by lane, relative error < 2e-7 (Cephes expf: x = n ln2 + r,
// |r| <= ln2/2, a degree-6 polynomial for e^r, 2^n through the exponent
// bits). Lanes below -87.3 (including -inf) give exactly 0; x must not be
// above 88.7 (the callers pass x - max <= 0).
inline V16 exp(V16 x) {
  const V16 below = x < splat(-87.3f) ? splat(1.0f) : splat(0.0f);
  x = x < splat(-87.3f) ? splat(-87.3f) : x;
  // n = round(x / ln2): add and subtract 1.5 * 2^23 (round to nearest even).
  const V16 magic = splat(12582912.0f);
  const V16 n = (x * splat(1.44269504088896341f) + magic) - magic;
  V16 r = x - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  V16 p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * (r * r) + r + splat(1.0f);
  const I16 bits = (__builtin_convertvector(n, I16) + 127) << 23;
  V16 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const V16 y = p * scale;
  return below > splat(0.0f) ? splat(0.0f) : y;
}

}  // namespace moe::simd
