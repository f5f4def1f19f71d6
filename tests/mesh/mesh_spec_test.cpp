#include "mesh/mesh_spec.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace moe {
namespace {

// The InputError message of `fn`, or a failure if it does not throw one.
template <typename Fn>
std::string input_error_of(Fn fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError thrown";
  return "";
}

TEST(MeshSpec, ParsesNamedAxesInOrder) {
  const MeshSpec spec = parse_mesh_spec("data=2,expert=4");
  ASSERT_EQ(spec.axes.size(), 2u);
  EXPECT_EQ(spec.axes[0], (std::pair<std::string, int>{"data", 2}));
  EXPECT_EQ(spec.axes[1], (std::pair<std::string, int>{"expert", 4}));
  EXPECT_EQ(spec.num_ranks(), 8);
  EXPECT_EQ(spec.to_string(), "data=2,expert=4");
  EXPECT_EQ(spec.axis_index("expert"), 1);
  EXPECT_TRUE(spec.has_axis("data"));
  EXPECT_FALSE(spec.has_axis("model"));
}

TEST(MeshSpec, AllowsSpacesAndASingleAxis) {
  EXPECT_EQ(parse_mesh_spec(" data = 3 , expert=1 ").to_string(), "data=3,expert=1");
  EXPECT_EQ(parse_mesh_spec("expert=16").num_ranks(), 16);
}

TEST(MeshSpec, RejectsMalformedTextNamingTheItem) {
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data2"); }).find("'data2' is not NAME=SIZE"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=two"); }).find("size 'two' of axis 'data'"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=2x"); }).find("'2x'"), std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=2,"); }).find("'' is not NAME=SIZE"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec(""); }).find("mesh spec ''"), std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=99999999999"); }).find("not an integer"),
            std::string::npos);
}

TEST(MeshSpec, RejectsBadNamesSizesAndDuplicates) {
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=0"); }).find("axis 'data' has size 0"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=-2"); }).find("size -2"), std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("2d=2"); }).find("'2d' is not an identifier"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("=2"); }).find("'' is not an identifier"),
            std::string::npos);
  EXPECT_NE(input_error_of([] { parse_mesh_spec("data=2,data=2"); }).find("'data' appears twice"),
            std::string::npos);
}

TEST(MeshSpec, ValidationNamesBothRankCounts) {
  const MeshSpec spec = parse_mesh_spec("data=2,expert=2");
  EXPECT_NO_THROW(validate_mesh_spec(spec, 4));
  const std::string message = input_error_of([&] { validate_mesh_spec(spec, 6); });
  EXPECT_NE(message.find("mesh 'data=2,expert=2' needs 4 ranks"), std::string::npos) << message;
  EXPECT_NE(message.find("the job has 6 ranks"), std::string::npos) << message;
  EXPECT_THROW(validate_mesh_spec(MeshSpec{}, 1), InputError);
  EXPECT_THROW(validate_mesh_spec(MeshSpec{{{"data", 0}}}, 0), InputError);
}

TEST(MeshSpec, HugeProductsSaturateInsteadOfOverflowing) {
  const MeshSpec spec = parse_mesh_spec("a=65536,b=65536,c=65536");
  EXPECT_GT(spec.num_ranks(), 2147483647LL);
  EXPECT_THROW(validate_mesh_spec(spec, 1 << 30), InputError);
}

TEST(MeshSpec, UnknownAxisLookupNamesAxisAndMesh) {
  const MeshSpec spec = parse_mesh_spec("data=2");
  EXPECT_EQ(input_error_of([&] { spec.axis_index("expert"); }),
            "mesh 'data=2' has no axis 'expert'");
}

TEST(MeshSpec, RankLayoutIsRowMajorLastAxisFastest) {
  const MeshSpec spec = parse_mesh_spec("data=2,expert=3");
  EXPECT_EQ(mesh_coords(spec, 0), (std::vector<int>{0, 0}));
  EXPECT_EQ(mesh_coords(spec, 1), (std::vector<int>{0, 1}));
  EXPECT_EQ(mesh_coords(spec, 2), (std::vector<int>{0, 2}));
  EXPECT_EQ(mesh_coords(spec, 3), (std::vector<int>{1, 0}));
  EXPECT_EQ(mesh_coords(spec, 5), (std::vector<int>{1, 2}));
  for (int rank = 0; rank < 6; ++rank) EXPECT_EQ(mesh_rank(spec, mesh_coords(spec, rank)), rank);
  EXPECT_THROW(mesh_coords(spec, 6), InternalError);
  EXPECT_THROW(mesh_rank(spec, {2, 0}), InternalError);
}

}  // namespace
}  // namespace moe
