#pragma once
// Tensor<T>: owning, contiguous, row-major, 64-byte aligned storage.
// TensorView<T>: non-owning view of contiguous memory (parameters and their
// gradients are views into the flat buffers of the weight table).
// T is float for training and decoding; double instantiations exist so that
// gradient tests can compare against finite differences precisely.
#include <Eigen/Core>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/shape.h"

namespace moe {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

template <typename T>
class TensorView {
 public:
  TensorView() = default;
  TensorView(T* data, Shape shape) : data_(data), shape_(shape) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return shape_.rank(); }
  bool empty() const { return numel() == 0; }

  T& operator[](std::int64_t i) const { return data_[i]; }
  T* row(std::int64_t r) const { return data_ + r * shape_.back(); }

  // The tensor as a [rows, last-dim] matrix.
  MatrixMap<T> matrix() const { return MatrixMap<T>(data_, shape_.rows(), shape_.back()); }
  VectorMap<T> vector() const { return VectorMap<T>(data_, numel()); }
  // Slice along the first dimension: view of item i (rank - 1 dims).
  TensorView<T> operator()(std::int64_t i) const;
  // Same memory, another shape with the same element count.
  TensorView<T> reshaped(Shape s) const {
    MOE_CHECK(s.numel() == numel(), "reshape " + shape_.str() + " -> " + s.str());
    return TensorView<T>(data_, s);
  }

  void fill(T v) const { std::fill(data_, data_ + numel(), v); }
  void zero() const { std::memset(static_cast<void*>(data_), 0, sizeof(T) * numel()); }
  void copy_from(TensorView<const T> src) const;

  operator TensorView<const T>() const { return TensorView<const T>(data_, shape_); }

 private:
  T* data_ = nullptr;
  Shape shape_;
};

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T* p, std::size_t) { ::operator delete[](p, std::align_val_t(64)); }
  // Growing a buffer default-initialises its new elements (no zeroing):
  // workspaces are sized for the worst case (an expert buffer has room for
  // every slot of its capacity, a dropless one for every token) and written
  // only where used, and pages never written cost no memory. Values passed
  // explicitly (Tensor(shape) zero-fills) are constructed as usual.
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape) : shape_(shape), data_(shape.numel(), T(0)) {}
  Tensor(Shape shape, T value) : shape_(shape), data_(shape.numel(), value) {}

  // Reallocates only when growing; contents are unspecified after a resize
  // (workspaces are resized every step and must not allocate in steady state),
  // except that the leading elements, up to the smaller of the two sizes, are
  // kept (a shrunk [R,...] buffer keeps its first rows).
  void resize(Shape shape) {
    shape_ = shape;
    if (static_cast<std::size_t>(shape.numel()) > data_.size()) data_.resize(shape.numel());
  }
  // Resize and zero.
  void resize_zero(Shape shape) {
    resize(shape);
    view().zero();
  }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return shape_.rank(); }

  T& operator[](std::int64_t i) { return data_[i]; }
  const T& operator[](std::int64_t i) const { return data_[i]; }

  TensorView<T> view() { return TensorView<T>(data_.data(), shape_); }
  TensorView<const T> view() const { return TensorView<const T>(data_.data(), shape_); }
  operator TensorView<T>() { return view(); }
  operator TensorView<const T>() const { return view(); }

  MatrixMap<T> matrix() { return view().matrix(); }
  ConstMatrixMap<T> matrix() const {
    return ConstMatrixMap<T>(data_.data(), shape_.rows(), shape_.back());
  }

 private:
  Shape shape_;
  std::vector<T, AlignedAllocator<T>> data_;
};

// ---- inline definitions ----

template <typename T>
TensorView<T> TensorView<T>::operator()(std::int64_t i) const {
  MOE_CHECK(shape_.rank() >= 1 && i >= 0 && i < shape_[0], "slice index out of range");
  Shape inner;
  switch (shape_.rank()) {
    case 1: inner = Shape{}; break;
    case 2: inner = Shape{shape_[1]}; break;
    case 3: inner = Shape{shape_[1], shape_[2]}; break;
    default: inner = Shape{shape_[1], shape_[2], shape_[3]}; break;
  }
  return TensorView<T>(data_ + i * inner.numel(), inner);
}

template <typename T>
void TensorView<T>::copy_from(TensorView<const T> src) const {
  MOE_CHECK(src.numel() == numel(), "copy " + src.shape().str() + " -> " + shape_.str());
  std::memcpy(static_cast<void*>(data_), src.data(), sizeof(T) * numel());
}

// Throws InternalError naming both shapes if they differ.
inline void check_shape(const Shape& got, const Shape& want, const char* what) {
  MOE_CHECK(got == want, std::string(what) + ": shape " + got.str() + ", expected " + want.str());
}

}  // namespace moe
