#pragma once
// The shape of a device mesh: named axes with sizes, e.g. {data: 2, expert: 2}.
// Plain data, so recipes and command lines can build one without MPI.
//
// Rank layout (GSHARD.md §5.2): row-major over the axes in the order given,
// the last axis varying fastest. For {data: 2, expert: 2}:
//   rank 0 = (data 0, expert 0), rank 1 = (0, 1), rank 2 = (1, 0), rank 3 = (1, 1)
// so the ranks of one expert group (same data coordinate) are neighbours.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moe {

struct MeshSpec {
  std::vector<std::pair<std::string, int>> axes;  // (name, size), outermost first

  // The product of the axis sizes: the number of ranks the mesh needs
  // (saturated at 2^31, beyond any real job).
  long long num_ranks() const;
  // Position of the axis called `name`; throws InputError naming the axis and
  // the mesh if there is none.
  int axis_index(std::string_view name) const;
  bool has_axis(std::string_view name) const;
  // "data=2,expert=2", the form parse_mesh_spec reads.
  std::string to_string() const;
};

// Parses "data=2,expert=2" (spaces around names, '=' and ',' are allowed).
// Names are identifiers ([A-Za-z_][A-Za-z0-9_]*), unique; sizes are integers >= 1.
// Throws InputError quoting the text and the offending item.
MeshSpec parse_mesh_spec(std::string_view text);

// Throws InputError unless the axes are valid (see parse_mesh_spec) and their
// product equals `world_size`; the message names both numbers.
void validate_mesh_spec(const MeshSpec& spec, int world_size);

// Coordinates of `rank` along each axis under the row-major layout.
// Requires 0 <= rank < spec.num_ranks().
std::vector<int> mesh_coords(const MeshSpec& spec, int rank);
// The inverse of mesh_coords.
int mesh_rank(const MeshSpec& spec, const std::vector<int>& coords);

}  // namespace moe
