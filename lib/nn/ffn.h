#pragma once
// Dense position-wise feed-forward block (torchref FeedForward):
//   y = dropout(relu(x w_in + b_in)) w_out + b_out
#include <cstdint>
#include <memory>

#include "nn/dropout.h"
#include "nn/linear.h"

namespace moe {

// Views into the weight table (not owned).
template <typename T>
struct FfnParams {
  LinearParams<T> in;   // w [M,H], b [H]
  LinearParams<T> out;  // w [H,M], b [M]
};

template <typename T>
class FeedForward {
 public:
  // scratch: [N,H] backward workspace shared by several layers (not owned;
  // must outlive the layer); nullptr = the layer keeps its own.
  FeedForward(std::int64_t d_model, std::int64_t d_hidden, double dropout,
              Tensor<T>* scratch = nullptr);

  // x: [N,M] -> y: [N,M]. x must stay alive and unchanged until backward
  // (the cache keeps a view, not a copy).
  void forward(const FfnParams<T>& p, TensorView<const T> x, TensorView<T> y, bool training,
               Rng& rng);
  // dy: [N,M]. Accumulates into g; writes dx [N,M] (adds when accumulate_dx).
  void backward(const FfnParams<T>& p, const FfnParams<T>& g, TensorView<const T> dy,
                TensorView<T> dx, bool accumulate_dx);

 private:
  std::int64_t d_model_, hidden_dim_;
  Dropout<T> dropout_;
  struct Cache {
    TensorView<const T> x;  // [N,M] input (view)
    Tensor<T> hidden;       // [N,H] relu output after dropout
  } cache_;
  std::unique_ptr<Tensor<T>> own_scratch_;  // when none is shared
  Tensor<T>* d_hidden_;     // [N,H] backward workspace (own or shared)
};

}  // namespace moe
