#pragma once
// The tied output projection fused with log-softmax and label-smoothed cross
// entropy (torch's F.cross_entropy(label_smoothing=eps, ignore_index=pad)):
//   logits = h emb^T,  per token  (1-eps) * nll + eps * mean_v(-log p_v).
// Rows are processed in chunks, so the [N,V] logits are never all live; the
// training forward also produces the gradients chunk by chunk (one logits
// GEMM per chunk instead of recomputing them in backward).
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace moe {

// Sums over the non-pad tokens of one forward.
struct CrossEntropySums {
  double smoothed = 0;     // sum of (1-eps) * nll + eps * mean_v(-log p_v)
  double nll = 0;          // sum of -log p(label)
  std::int64_t tokens = 0; // labels != pad
};

template <typename T>
class TiedSoftmaxCrossEntropy {
 public:
  // chunk_elements bounds the live logits of one chunk (rows * V).
  TiedSoftmaxCrossEntropy(double label_smoothing, std::int32_t pad_id,
                          std::int64_t chunk_elements = std::int64_t(1) << 22);

  // h: [N,M] final decoder states; emb: [V,M] the shared embedding; labels: N
  // ids (pad_id = ignored). Throws InputError for a label outside [0,V).
  // With want_grad, d(sum smoothed)/dh and /demb are computed and kept (h and
  // emb need not outlive the call).
  CrossEntropySums forward(TensorView<const T> h, TensorView<const T> emb,
                           const std::int32_t* labels, bool want_grad);
  // Gradient of scale * (sum smoothed) of the last want_grad forward:
  // writes dh [N,M], accumulates into gemb [V,M].
  void backward(T scale, TensorView<T> dh, TensorView<T> gemb) const;

 private:
  double eps_;
  std::int32_t pad_;
  std::int64_t chunk_elements_;
  Tensor<T> logits_;  // [rows of a chunk, V] workspace
  std::vector<double> row_nll_, row_smoothed_;  // [rows of a chunk]
  Tensor<T> dh_;      // [N,M] d(sum smoothed)/dh
  Tensor<T> demb_;    // [V,M] d(sum smoothed)/demb
  bool have_grad_ = false;
};

// log_probs [R,V] = log_softmax(h emb^T) for decoding. h: [R,M], emb: [V,M].
template <typename T>
void tied_log_probs(TensorView<const T> h, TensorView<const T> emb, TensorView<T> log_probs);

}  // namespace moe
