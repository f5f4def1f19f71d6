#include "tensor/row_gemm.h"

#include "tensor/simd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace moe {
namespace {

using simd::load;
using simd::store;
using simd::V16;
using simd::I16;

constexpr int kVecs = 4;                // vectors per panel row
constexpr std::int64_t kPanel = 16 * kVecs;  // NR: columns of a B panel
constexpr std::int64_t kDepth = 128;    // KC: rows of a B panel (kPanel x kDepth floats = 32 KiB)
#ifdef __AVX512F__
constexpr int kRows = 4;                // MR: 4 x 4 accumulators + 4 panel vectors in 32 registers
#else
constexpr int kRows = 2;
#endif
// Products with fewer multiply-adds than this stay on one thread.
constexpr double kParallelWork = 1 << 21;  // as gemm(): no more fork/joins than before

// C rows [0,R) x panel columns [0,w) (+)= A[R, kc] x P[kc, kPanel], P's rows
// ldp apart. Columns past w are computed on whatever P holds there (zeros
// for a padded panel) and never stored.
template <int R>
void tile(const float* a, std::int64_t lda, const float* p, std::int64_t ldp, std::int64_t kc,
          float* c, std::int64_t ldc, bool load_c, std::int64_t w) {
  V16 acc[R][kVecs];
  if (load_c) {
    for (int r = 0; r < R; ++r) {
      if (w == kPanel) {
        for (int v = 0; v < kVecs; ++v) acc[r][v] = load(c + r * ldc + 16 * v);
      } else {
        float row[kPanel] = {};
        std::copy(c + r * ldc, c + r * ldc + w, row);
        for (int v = 0; v < kVecs; ++v) acc[r][v] = load(row + 16 * v);
      }
    }
  } else {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kVecs; ++v) acc[r][v] = V16{};
  }
  for (std::int64_t kk = 0; kk < kc; ++kk) {
    V16 b[kVecs];
    for (int v = 0; v < kVecs; ++v) {
      b[v] = load(p + kk * ldp + 16 * v);
#ifdef __AVX512F__
      // Keep the panel row in registers: GCC otherwise folds the load into
      // each of the R multiply-adds that use it, and the loop becomes bound
      // by its 4R + R loads instead of by its 4R multiply-adds.
      asm("" : "+v"(b[v]));
#endif
    }
    for (int r = 0; r < R; ++r) {
      const float x = a[r * lda + kk];
      for (int v = 0; v < kVecs; ++v) acc[r][v] += x * b[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    if (w == kPanel) {
      for (int v = 0; v < kVecs; ++v) store(c + r * ldc + 16 * v, acc[r][v]);
    } else {
      float row[kPanel];
      for (int v = 0; v < kVecs; ++v) store(row + 16 * v, acc[r][v]);
      std::copy(row, row + w, c + r * ldc);
    }
  }
}

void rows_tile(int rows, const float* a, std::int64_t lda, const float* p, std::int64_t ldp,
               std::int64_t kc, float* c, std::int64_t ldc, bool load_c, std::int64_t w) {
  switch (rows) {
    case 1: tile<1>(a, lda, p, ldp, kc, c, ldc, load_c, w); break;
    case 2: tile<2>(a, lda, p, ldp, kc, c, ldc, load_c, w); break;
    case 3: tile<3>(a, lda, p, ldp, kc, c, ldc, load_c, w); break;
    default: tile<4>(a, lda, p, ldp, kc, c, ldc, load_c, w); break;
  }
}

// In-register transpose of 16 rows of 16 floats: afterwards r[i][l] is the
// old r[l][i]. Four block-swap stages (swap the off-diagonal d x d blocks of
// every 2d x 2d block, d = 8, 4, 2, 1), 16 two-source shuffles each; fully
// unrolled with constant masks so that r stays in registers.
template <int D>
inline void swap_blocks(V16 r[16]) {
  // lane l of row i: a[l] or b[l-D]; lane l of row i+D: a[l+D] or b[l]
  constexpr auto lane_lo = [](int l) { return (l & D) ? 16 + l - D : l; };
  constexpr auto lane_hi = [](int l) { return (l & D) ? 16 + l : l + D; };
  constexpr I16 lo = [&]<int... L>(std::integer_sequence<int, L...>) {
    return I16{lane_lo(L)...};
  }(std::make_integer_sequence<int, 16>{});
  constexpr I16 hi = [&]<int... L>(std::integer_sequence<int, L...>) {
    return I16{lane_hi(L)...};
  }(std::make_integer_sequence<int, 16>{});
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    if (i & D) continue;
    const V16 a = r[i], b = r[i + D];
    r[i] = __builtin_shuffle(a, b, lo);
    r[i + D] = __builtin_shuffle(a, b, hi);
  }
}

inline void transpose16(V16 r[16]) {
  swap_blocks<8>(r);
  swap_blocks<4>(r);
  swap_blocks<2>(r);
  swap_blocks<1>(r);
}

// Copies op(B)[k0 : k0+kc, j0 : j0+w] into the contiguous panel [kc, kPanel],
// zero-padded past w. NN: B is [k,n], rows of the panel are segments of B's
// rows. NT: B is [n,k] and the panel is a transposed block, moved 16 x 16
// through registers. The rows of the next panel (the next on this thread
// under the static schedule) are prefetched meanwhile: B is usually a weight
// matrix that comes from memory.
void pack_panel(bool trans_b, const float* b, std::int64_t ldb, std::int64_t n, std::int64_t k0,
                std::int64_t kc, std::int64_t j0, std::int64_t w, float* panel) {
  const bool prefetch_next = j0 + kPanel < n;
  if (!trans_b) {
    for (std::int64_t kk = 0; kk < kc; ++kk) {
      const float* src = b + (k0 + kk) * ldb + j0;
      float* row = panel + kk * kPanel;
      if (prefetch_next)
        for (std::int64_t x = 0; x < kPanel; x += 16) __builtin_prefetch(src + kPanel + x);
      if (w == kPanel) {  // (std::copy of a runtime length is a memmove call)
        for (int v = 0; v < kVecs; ++v) store(row + 16 * v, load(src + 16 * v));
      } else {
        std::copy(src, src + w, row);
        std::fill(row + w, row + kPanel, 0.0f);
      }
    }
    return;
  }
  const std::int64_t full_j = w / 16 * 16, full_k = kc / 16 * 16;
  for (std::int64_t jj = 0; jj < full_j; jj += 16) {
    for (std::int64_t kk = 0; kk < full_k; kk += 16) {
      V16 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) r[i] = load(b + (j0 + jj + i) * ldb + k0 + kk);
      transpose16(r);
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) store(panel + (kk + i) * kPanel + jj, r[i]);
    }
  }
  if (prefetch_next)
    for (std::int64_t jj = 0; jj < kPanel && j0 + kPanel + jj < n; ++jj)
      for (std::int64_t x = 0; x < kc; x += 16) __builtin_prefetch(b + (j0 + kPanel + jj) * ldb + k0 + x);
  // Edges: the last kc % 16 rows of the panel, the columns past full_j.
  for (std::int64_t kk = 0; kk < kc; ++kk) {
    float* row = panel + kk * kPanel;
    const std::int64_t from = kk < full_k ? full_j : 0;
    for (std::int64_t jj = from; jj < w; ++jj) row[jj] = b[(j0 + jj) * ldb + k0 + kk];
    std::fill(row + w, row + kPanel, 0.0f);
  }
}

// One column panel [j0, j0 + w) of C over all of k and all m rows. The panel
// is always copied: contiguous, it stays in L1 while every row of A passes
// (read in place, its rows are ldb apart and collide in the cache's sets,
// which halved the speed).
void panel(bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, bool accumulate, float* c,
           std::int64_t ldc, std::int64_t j0) {
  const std::int64_t w = std::min(kPanel, n - j0);
  alignas(64) float packed[kDepth * kPanel];
  for (std::int64_t k0 = 0; k0 < k; k0 += kDepth) {
    const std::int64_t kc = std::min(kDepth, k - k0);
    pack_panel(trans_b, b, ldb, n, k0, kc, j0, w, packed);
    const bool load_c = accumulate || k0 > 0;
    for (std::int64_t i0 = 0; i0 < m; i0 += kRows) {
      const int rows = static_cast<int>(std::min<std::int64_t>(kRows, m - i0));
      rows_tile(rows, a + i0 * lda + k0, lda, packed, kPanel, kc, c + i0 * ldc + j0, ldc, load_c, w);
    }
  }
}

void run(bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
         std::int64_t lda, const float* b, std::int64_t ldb, bool accumulate, float* c,
         std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const std::int64_t panels = (n + kPanel - 1) / kPanel;
  const bool parallel = !omp_in_parallel() && omp_get_max_threads() > 1 && panels > 1 &&
                        static_cast<double>(m) * n * k >= kParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t q = 0; q < panels; ++q)
    panel(trans_b, m, n, k, a, lda, b, ldb, accumulate, c, ldc, q * kPanel);
}

}  // namespace

void row_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
              const float* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc) {
  run(false, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void row_gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                 const float* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc) {
  run(true, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

}  // namespace moe
