#pragma once
// Shapes of up to 4 dimensions (the model never needs more: [E,G,C,M] is the widest).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "util/error.h"

namespace moe {

class Shape {
 public:
  static constexpr int kMaxRank = 4;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) {
    MOE_CHECK(dims.size() <= kMaxRank, "rank > 4");
    for (std::int64_t d : dims) {
      MOE_CHECK(d >= 0, "negative dimension");
      dims_[rank_++] = d;
    }
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const {
    MOE_CHECK(i >= 0 && i < rank_, "dimension index out of range");
    return dims_[i];
  }
  // Dimension counted from the end: back(0) is the last (fastest) dimension.
  std::int64_t back(int i = 0) const { return (*this)[rank_ - 1 - i]; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  // Product of all but the last dimension: the row count of the 2-D view.
  std::int64_t rows() const { return rank_ == 0 ? 1 : numel() / (dims_[rank_ - 1] ? dims_[rank_ - 1] : 1); }

  bool operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if (dims_[i] != o.dims_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? "," : "") + std::to_string(dims_[i]);
    return s + "]";
  }

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace moe
