#pragma once
// The device mesh: the job's ranks arranged as named axes (mesh_spec.h gives
// the row-major layout), with one moe::Collectives per axis so the MoE layer
// can all-to-all along "expert" while the trainer all-reduces along "data".
//
// Over MPI every axis group is an MPI_Comm_split of the world; in a single
// process (MpiRuntime without MPI) every group is a moe::SingleProcess and the
// spec must multiply to 1. Callers see the same API either way.
//
// Ownership: the Mesh owns its communicators (freed on destruction, which must
// come before the MpiRuntime's); the Collectives references it hands out live
// as long as the Mesh. Not copyable, not movable (references stay valid).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/mesh_spec.h"
#include "mesh/mpi_runtime.h"
#include "util/collectives.h"

namespace moe {

class Mesh {
 public:
  // Collective over the world: every rank builds its Mesh with the same spec,
  // at the same point. Throws InputError if the spec is invalid or does not
  // multiply to the number of ranks.
  Mesh(const MpiRuntime& runtime, MeshSpec spec);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  const MeshSpec& spec() const { return spec_; }
  int rank() const { return rank_; }  // world rank
  int size() const { return static_cast<int>(spec_.num_ranks()); }
  bool uses_mpi() const { return uses_mpi_; }
  // This rank's coordinate along each axis, in spec order.
  const std::vector<int>& coords() const { return coords_; }
  // The lookups below throw InputError naming the axis and the mesh if no axis
  // has that name.
  int coord(std::string_view axis) const;
  int axis_size(std::string_view axis) const;
  // "rank 3 (data=1,expert=1)", for log and error lines.
  std::string describe_rank() const;

  Collectives& world() { return *world_; }
  // The ranks that differ from this one only along `axis` (size: that axis's
  // size; rank within: this rank's coordinate along it). The MoE all-to-all
  // runs on axis("expert").
  Collectives& axis(std::string_view axis);
  // The ranks that share this rank's coordinate along `axis`: all other axes
  // together (size: world / axis size; ranks ordered by world rank). These
  // hold the replicas of a tensor sharded along `axis`, so its gradients are
  // summed here; with {data, expert} this is the same set as axis("data").
  Collectives& all_axes_but(std::string_view axis);

  // Traffic of this rank summed over every group of the mesh (world, axes,
  // complements: each call is counted by exactly one group), and its reset.
  CollectiveStats traffic() const;
  void reset_traffic();

 private:
  MeshSpec spec_;
  bool uses_mpi_ = false;
  int rank_ = 0;
  std::vector<int> coords_;
  std::unique_ptr<Collectives> world_;
  std::vector<std::unique_ptr<Collectives>> axis_groups_;       // one per axis
  std::vector<std::unique_ptr<Collectives>> complement_groups_;  // one per axis
};

}  // namespace moe
