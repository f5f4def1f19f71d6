#include "mesh/mesh_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "util/error.h"

namespace moe {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// Checks names and sizes; `where` prefixes every message ("mesh spec 'x=0'").
void check_axes(const MeshSpec& spec, const std::string& where) {
  if (spec.axes.empty()) throw InputError(where + ": the mesh needs at least one axis");
  for (std::size_t i = 0; i < spec.axes.size(); ++i) {
    const auto& [name, size] = spec.axes[i];
    if (!is_identifier(name))
      throw InputError(where + ": axis name '" + name +
                       "' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    if (size < 1)
      throw InputError(where + ": axis '" + name + "' has size " + std::to_string(size) +
                       ", must be at least 1");
    for (std::size_t j = 0; j < i; ++j)
      if (spec.axes[j].first == name)
        throw InputError(where + ": axis '" + name + "' appears twice");
  }
}

}  // namespace

long long MeshSpec::num_ranks() const {
  // Saturates so that absurd specs still compare unequal to any world size.
  constexpr long long kCap = std::numeric_limits<int>::max() + 1LL;
  long long n = 1;
  for (const auto& axis : axes) n = std::min(n * std::max(axis.second, 0), kCap);
  return n;
}

int MeshSpec::axis_index(std::string_view name) const {
  for (std::size_t i = 0; i < axes.size(); ++i)
    if (axes[i].first == name) return static_cast<int>(i);
  throw InputError("mesh '" + to_string() + "' has no axis '" + std::string(name) + "'");
}

bool MeshSpec::has_axis(std::string_view name) const {
  for (const auto& axis : axes)
    if (axis.first == name) return true;
  return false;
}

std::string MeshSpec::to_string() const {
  std::string s;
  for (const auto& [name, size] : axes) {
    if (!s.empty()) s += ',';
    s += name + '=' + std::to_string(size);
  }
  return s;
}

MeshSpec parse_mesh_spec(std::string_view text) {
  const std::string where = "mesh spec '" + std::string(text) + "'";
  MeshSpec spec;
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw InputError(where + ": item '" + std::string(item) + "' is not NAME=SIZE");
    const std::string_view name = trim(item.substr(0, eq));
    const std::string_view size_text = trim(item.substr(eq + 1));
    int size = 0;
    const auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    if (ec != std::errc() || end != size_text.data() + size_text.size() || size_text.empty())
      throw InputError(where + ": size '" + std::string(size_text) + "' of axis '" +
                       std::string(name) + "' is not an integer");
    spec.axes.emplace_back(std::string(name), size);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  check_axes(spec, where);
  return spec;
}

void validate_mesh_spec(const MeshSpec& spec, int world_size) {
  const std::string where = "mesh '" + spec.to_string() + "'";
  check_axes(spec, where);
  if (spec.num_ranks() != world_size)
    throw InputError(where + " needs " + std::to_string(spec.num_ranks()) +
                     " ranks (the product of its axis sizes) but the job has " +
                     std::to_string(world_size) + " ranks");
}

std::vector<int> mesh_coords(const MeshSpec& spec, int rank) {
  MOE_CHECK(rank >= 0 && rank < spec.num_ranks(),
            "rank " + std::to_string(rank) + " outside mesh " + spec.to_string());
  std::vector<int> coords(spec.axes.size());
  for (std::size_t i = spec.axes.size(); i-- > 0;) {
    coords[i] = rank % spec.axes[i].second;
    rank /= spec.axes[i].second;
  }
  return coords;
}

int mesh_rank(const MeshSpec& spec, const std::vector<int>& coords) {
  MOE_CHECK(coords.size() == spec.axes.size(), "one coordinate per mesh axis");
  int rank = 0;
  for (std::size_t i = 0; i < coords.size(); ++i) {
    MOE_CHECK(coords[i] >= 0 && coords[i] < spec.axes[i].second,
              "coordinate outside axis " + spec.axes[i].first);
    rank = rank * spec.axes[i].second + coords[i];
  }
  return rank;
}

}  // namespace moe
