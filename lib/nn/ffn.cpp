#include "nn/ffn.h"

#include "tensor/ops.h"

namespace moe {

template <typename T>
FeedForward<T>::FeedForward(std::int64_t d_model, std::int64_t d_hidden, double dropout,
                            Tensor<T>* scratch)
    : d_model_(d_model), hidden_dim_(d_hidden), dropout_(dropout),
      own_scratch_(scratch ? nullptr : std::make_unique<Tensor<T>>()),
      d_hidden_(scratch ? scratch : own_scratch_.get()) {}

template <typename T>
void FeedForward<T>::forward(const FfnParams<T>& p, TensorView<const T> x, TensorView<T> y,
                             bool training, Rng& rng) {
  MOE_CHECK(x.shape().back() == d_model_, "ffn input " + x.shape().str());
  const std::int64_t n = x.shape().rows();
  cache_.x = x;
  cache_.hidden.resize(Shape{n, hidden_dim_});
  linear_forward<T>(p.in, x, cache_.hidden.view());
  relu_inplace<T>(cache_.hidden.view());
  dropout_.forward_inplace(cache_.hidden.view(), training, rng);
  linear_forward<T>(p.out, cache_.hidden.view(), y);
}

template <typename T>
void FeedForward<T>::backward(const FfnParams<T>& p, const FfnParams<T>& g,
                              TensorView<const T> dy, TensorView<T> dx, bool accumulate_dx) {
  const std::int64_t n = cache_.x.shape().rows();
  d_hidden_->resize(Shape{n, hidden_dim_});
  linear_backward<T>(p.out, g.out, cache_.hidden.view(), dy, d_hidden_->view());
  dropout_.backward_inplace(d_hidden_->view());
  // A dropped unit has dhidden == 0 already, so the post-dropout activation
  // is as good a ReLU mask as the pre-dropout one.
  relu_backward_inplace<T>(d_hidden_->view(), cache_.hidden.view());
  linear_backward<T>(p.in, g.in, cache_.x, d_hidden_->view(), dx, accumulate_dx);
}

template class FeedForward<float>;
template class FeedForward<double>;

}  // namespace moe
