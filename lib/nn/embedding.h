#pragma once
// Token embeddings with sinusoidal positions, as torchref: one [V,M] matrix is
// shared by the source, the target and the tied output projection
// (cross_entropy.h), lookups are scaled by sqrt(M), and positions are the
// fixed sin/cos table (sin on even, cos on odd dimensions).
#include <cstdint>

#include "tensor/tensor.h"

namespace moe {

// [P,M] table: pe[p, 2i] = sin(p * w_i), pe[p, 2i+1] = cos(p * w_i),
// w_i = exp(-ln(10000) * 2i / M). Computed in T (torchref: float32).
template <typename T>
Tensor<T> sinusoid_positions(std::int64_t max_positions, std::int64_t dim);

// y[b,l,:] = table[ids[b*L + l], :] * scale + positions[offset + l, :].
// table: [V,M], ids: B*L token ids, positions: [P,M] with offset + L <= P,
// y: [B,L,M] (or [B*L,M]). Throws InputError for an id outside [0,V) or a
// sequence longer than the position table.
template <typename T>
void embed_forward(TensorView<const T> table, const std::int32_t* ids, std::int64_t batch,
                   std::int64_t length, T scale, TensorView<const T> positions,
                   std::int64_t offset, TensorView<T> y);

// gtable[ids[n], :] += scale * dy[n, :] for every n whose id != skip_id (torch's
// padding_idx: the pad row learns nothing from lookups). dy: [N,M], gtable: [V,M].
template <typename T>
void embed_backward(TensorView<T> gtable, const std::int32_t* ids, std::int64_t count, T scale,
                    TensorView<const T> dy, std::int32_t skip_id);

}  // namespace moe
