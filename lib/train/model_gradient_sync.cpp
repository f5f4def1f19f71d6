#include "train/model_gradient_sync.h"

#include <span>

namespace moe::train {

ModelGradientSync::ModelGradientSync(Mesh& mesh, Transformer<float>& model,
                                     const ModelGradientSyncOptions& options)
    : overlap_(options.overlap) {
  WeightTable<float>& w = model.weights();
  // A mesh without an expert axis holds every expert on every rank.
  bool expert_axis = false;
  for (const auto& axis : mesh.spec().axes) expert_axis |= axis.first == "expert";
  const std::vector<WeightInfo>& entries = w.entries();
  std::vector<GradientRange> ranges[2];
  slot_of_entry_.resize(entries.size());
  for (const auto& group : model.backward_gradient_groups()) {
    entries_of_group_.emplace_back();
    for (std::size_t e = group.begin; e < group.end; ++e) {
      const WeightInfo& info = entries[e];
      const int buffer = info.axis == MeshAxis::kExpert ? 1 : 0;
      slot_of_entry_[e] = {buffer, ranges[buffer].size()};
      ranges[buffer].push_back({static_cast<std::size_t>(info.offset),
                                static_cast<std::size_t>(info.shape.numel()),
                                buffer == 1 && expert_axis ? "expert" : ""});
      entries_of_group_.back().push_back(e);
    }
  }
  for (int buffer : {0, 1}) {
    const MeshAxis axis = buffer == 1 ? MeshAxis::kExpert : MeshAxis::kReplicated;
    TensorView<float> grads = w.grads(axis);
    sync_[buffer] = std::make_unique<GradientSync>(
        mesh, std::span<float>(grads.data(), static_cast<std::size_t>(w.numel(axis))), ranges[buffer],
        options.reduce);
  }
}

ModelGradientSync::~ModelGradientSync() = default;

std::function<void(std::size_t)> ModelGradientSync::on_group_final() {
  if (!overlap_) return {};
  return [this](std::size_t group) {
    for (std::size_t e : entries_of_group_.at(group)) {
      const Slot& s = slot_of_entry_[e];
      sync_[s.buffer]->mark_ready(s.range);
    }
  };
}

void ModelGradientSync::finish() {
  sync_[0]->finish();
  sync_[1]->finish();
}

std::size_t ModelGradientSync::num_buckets() const {
  return sync_[0]->num_buckets() + sync_[1]->num_buckets();
}

}  // namespace moe::train
