#include "model/weights.h"

#include <cmath>

#include "util/rng.h"

namespace moe {
namespace {

int axis_index(MeshAxis a) { return a == MeshAxis::kReplicated ? 0 : 1; }

// Box-Muller on the platform-independent uniforms (std::normal_distribution's
// algorithm is unspecified, so it would break cross-platform determinism).
double standard_normal(Rng& rng) {
  const double u1 = 1.0 - rng.uniform_double();  // (0, 1]
  const double u2 = rng.uniform_double();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

std::string to_string(MeshAxis a) { return a == MeshAxis::kReplicated ? "replicated" : "expert"; }

template <typename T>
void WeightTable<T>::add(WeightInfo info) {
  MOE_CHECK(!allocated_, "weight '" + info.name + "' added after allocate()");
  MOE_CHECK(!contains(info.name), "duplicate weight name '" + info.name + "'");
  MOE_CHECK(info.axis != MeshAxis::kExpert || info.shape.rank() >= 2,
            "expert weight '" + info.name + "' needs a leading expert dim");
  const int a = axis_index(info.axis);
  info.offset = sizes_[a];
  // Packed without gaps: the flat buffer of an axis is exactly numel(axis)
  // long, so "all gradients of the axis" is one (pointer, numel) range.
  sizes_[a] += info.shape.numel();
  index_[info.name] = entries_.size();
  entries_.push_back(std::move(info));
}

template <typename T>
void WeightTable<T>::allocate(Gradients gradients) {
  MOE_CHECK(!allocated_, "weight table allocated twice");
  has_gradients_ = gradients == Gradients::kAllocate;
  for (int a = 0; a < 2; ++a) {
    params_[a] = Tensor<T>(Shape{sizes_[a]});
    if (has_gradients_) grads_[a] = Tensor<T>(Shape{sizes_[a]});
  }
  allocated_ = true;
}

template <typename T>
void WeightTable<T>::initialize(std::uint64_t seed) {
  MOE_CHECK(allocated_, "initialize before allocate");
  for (const WeightInfo& w : entries_) {
    TensorView<T> t = view(params_[axis_index(w.axis)], w);
    const bool sliced = w.axis == MeshAxis::kExpert;
    const std::int64_t slices = sliced ? w.shape[0] : 1;
    const std::int64_t per_slice = t.numel() / std::max<std::int64_t>(1, slices);
    for (std::int64_t s = 0; s < slices; ++s) {
      Rng rng(seed, w.name, static_cast<std::uint64_t>(w.first_slice + s));
      T* d = t.data() + s * per_slice;
      for (std::int64_t i = 0; i < per_slice; ++i) {
        switch (w.init) {
          case Init::kZeros: d[i] = T(0); break;
          case Init::kOnes: d[i] = T(1); break;
          case Init::kUniform: d[i] = static_cast<T>(w.scale * (2.0 * rng.uniform_double() - 1.0)); break;
          case Init::kNormal: d[i] = static_cast<T>(w.scale * standard_normal(rng)); break;
        }
      }
    }
    if (w.zero_row >= 0) {
      const std::int64_t cols = w.shape.back();
      std::fill(t.data() + w.zero_row * cols, t.data() + (w.zero_row + 1) * cols, T(0));
    }
  }
}

template <typename T>
const WeightInfo& WeightTable<T>::info(const std::string& name) const {
  auto it = index_.find(name);
  MOE_CHECK(it != index_.end(), "no weight named '" + name + "'");
  return entries_[it->second];
}

template <typename T>
TensorView<T> WeightTable<T>::view(Tensor<T>& flat, const WeightInfo& w) {
  MOE_CHECK(allocated_, "weight '" + w.name + "' used before allocate()");
  return TensorView<T>(flat.data() + w.offset, w.shape);
}

template <typename T>
TensorView<T> WeightTable<T>::param(const std::string& name) {
  const WeightInfo& w = info(name);
  return view(params_[axis_index(w.axis)], w);
}

template <typename T>
TensorView<T> WeightTable<T>::grad(const std::string& name) {
  const WeightInfo& w = info(name);
  MOE_CHECK(has_gradients_, "gradient of '" + name + "' asked of a table allocated without gradients");
  return view(grads_[axis_index(w.axis)], w);
}

template <typename T>
TensorView<T> WeightTable<T>::params(MeshAxis axis) {
  MOE_CHECK(allocated_, "params before allocate()");
  return params_[axis_index(axis)].view();
}

template <typename T>
TensorView<T> WeightTable<T>::grads(MeshAxis axis) {
  MOE_CHECK(allocated_, "grads before allocate()");
  MOE_CHECK(has_gradients_, "gradients asked of a table allocated without them");
  return grads_[axis_index(axis)].view();
}

template <typename T>
void WeightTable<T>::zero_grads() {
  for (auto& g : grads_) g.view().zero();
}

template <typename T>
std::int64_t WeightTable<T>::numel(MeshAxis axis) const {
  std::int64_t n = 0;
  for (const WeightInfo& w : entries_)
    if (w.axis == axis) n += w.shape.numel();
  return n;
}

template class WeightTable<float>;
template class WeightTable<double>;

}  // namespace moe
