#include "mesh/mesh.h"

#include <utility>

#include "mesh/mpi_collectives.h"
#include "util/error.h"

namespace moe {
namespace {

std::unique_ptr<Collectives> split_world(int color, int key) {
  MPI_Comm comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(MPI_COMM_WORLD, color, key, &comm), "MPI_Comm_split");
  return std::make_unique<MpiCollectives>(MpiCollectives::adopt(comm));
}

}  // namespace

Mesh::Mesh(const MpiRuntime& runtime, MeshSpec spec)
    : spec_(std::move(spec)), uses_mpi_(runtime.uses_mpi()), rank_(runtime.world_rank()) {
  validate_mesh_spec(spec_, runtime.world_size());
  coords_ = mesh_coords(spec_, rank_);
  const std::size_t num_axes = spec_.axes.size();
  if (!uses_mpi_) {
    world_ = std::make_unique<SingleProcess>();
    for (std::size_t i = 0; i < num_axes; ++i) {
      axis_groups_.push_back(std::make_unique<SingleProcess>());
      complement_groups_.push_back(std::make_unique<SingleProcess>());
    }
    return;
  }
  world_ = std::make_unique<MpiCollectives>(MPI_COMM_WORLD);
  for (std::size_t i = 0; i < num_axes; ++i) {
    // An axis group is a line through the mesh along axis i: its members agree
    // on every other coordinate, so the rank with coordinate i zeroed names it.
    std::vector<int> line_start = coords_;
    line_start[i] = 0;
    axis_groups_.push_back(split_world(mesh_rank(spec_, line_start), coords_[i]));
    complement_groups_.push_back(split_world(coords_[i], rank_));
  }
}

Mesh::~Mesh() = default;

int Mesh::coord(std::string_view axis) const { return coords_[spec_.axis_index(axis)]; }

int Mesh::axis_size(std::string_view axis) const {
  return spec_.axes[spec_.axis_index(axis)].second;
}

std::string Mesh::describe_rank() const {
  std::string s = "rank " + std::to_string(rank_) + " (";
  for (std::size_t i = 0; i < coords_.size(); ++i) {
    if (i > 0) s += ',';
    s += spec_.axes[i].first + '=' + std::to_string(coords_[i]);
  }
  return s + ')';
}

Collectives& Mesh::axis(std::string_view axis) { return *axis_groups_[spec_.axis_index(axis)]; }

Collectives& Mesh::all_axes_but(std::string_view axis) {
  return *complement_groups_[spec_.axis_index(axis)];
}

namespace {

void add(CollectiveTraffic& sum, const CollectiveTraffic& t) {
  sum.calls += t.calls;
  sum.bytes += t.bytes;
  sum.seconds += t.seconds;
}

}  // namespace

CollectiveStats Mesh::traffic() const {
  CollectiveStats sum;
  auto add_group = [&](const Collectives& g) {
    const CollectiveStats& t = g.traffic();
    add(sum.all_reduce, t.all_reduce);
    add(sum.all_to_all, t.all_to_all);
    add(sum.all_gather, t.all_gather);
    add(sum.broadcast, t.broadcast);
  };
  add_group(*world_);
  for (const auto& g : axis_groups_) add_group(*g);
  for (const auto& g : complement_groups_) add_group(*g);
  return sum;
}

void Mesh::reset_traffic() {
  world_->reset_traffic();
  for (auto& g : axis_groups_) g->reset_traffic();
  for (auto& g : complement_groups_) g->reset_traffic();
}

}  // namespace moe
