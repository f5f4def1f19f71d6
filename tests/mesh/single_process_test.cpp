// The mesh without MPI: what every test, decode and eval run on one process uses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "mesh/gradient_reduce.h"
#include "mesh/mesh.h"
#include "mesh/metrics_reduce.h"
#include "mesh/run_on_mesh.h"
#include "util/error.h"

namespace moe {
namespace {

TEST(SingleProcessMesh, OneByOneMeshHasIdentityGroups) {
  MpiRuntime runtime(MeshBackend::kSingleProcess);
  EXPECT_FALSE(runtime.uses_mpi());
  Mesh mesh(runtime, parse_mesh_spec("data=1,expert=1"));
  EXPECT_FALSE(mesh.uses_mpi());
  EXPECT_EQ(mesh.rank(), 0);
  EXPECT_EQ(mesh.size(), 1);
  EXPECT_EQ(mesh.coords(), (std::vector<int>{0, 0}));
  EXPECT_EQ(mesh.describe_rank(), "rank 0 (data=0,expert=0)");
  for (Collectives* group : {&mesh.world(), &mesh.axis("data"), &mesh.axis("expert"),
                             &mesh.all_axes_but("data"), &mesh.all_axes_but("expert")}) {
    EXPECT_EQ(group->rank(), 0);
    EXPECT_EQ(group->size(), 1);
    std::vector<float> send{1, 2, 3}, recv(3);
    group->all_to_all(send.data(), recv.data(), 3);
    EXPECT_EQ(recv, send);
    std::vector<double> sum{4.5};
    group->all_reduce_sum(sum.data(), 1);
    EXPECT_EQ(sum[0], 4.5);
  }
  EXPECT_EQ(mesh.axis_size("expert"), 1);
  EXPECT_EQ(mesh.coord("data"), 0);
  EXPECT_THROW(mesh.axis("model"), InputError);
}

TEST(SingleProcessMesh, RejectsSpecNeedingMoreRanks) {
  MpiRuntime runtime(MeshBackend::kSingleProcess);
  try {
    Mesh mesh(runtime, parse_mesh_spec("data=2,expert=2"));
    FAIL() << "a 4-rank mesh was built on one process";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("needs 4 ranks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has 1 ranks"), std::string::npos) << e.what();
  }
}

TEST(SingleProcessCollectives, ExchangesCopyAndReductionsKeepValues) {
  SingleProcess one;
  std::vector<double> send{1.5, -2.5}, recv(2);
  one.all_to_all(send.data(), recv.data(), 2);
  EXPECT_EQ(recv, send);
  std::vector<float> mine{7, 8, 9}, gathered(3);
  one.all_gather(mine.data(), gathered.data(), 3);
  EXPECT_EQ(gathered, mine);
  std::vector<float> grads{1, 2};
  one.all_reduce_sum(grads.data(), 2);
  EXPECT_EQ(grads, (std::vector<float>{1, 2}));
  char text[] = "kept";
  one.broadcast(text, sizeof text, 0);
  EXPECT_STREQ(text, "kept");
}

TEST(SingleProcessCollectives, StartedAllReduceIsFinishedIdentity) {
  SingleProcess one;
  std::vector<float> grads{1, 2, 3};
  std::unique_ptr<PendingCollective> pending = one.start_all_reduce_sum(grads.data(), 3);
  ASSERT_NE(pending, nullptr);
  EXPECT_TRUE(pending->done());
  pending->wait();
  EXPECT_EQ(grads, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(one.traffic().all_reduce.calls, 0u);  // nothing leaves a single process
}

TEST(MpiRuntime, OnlyOneGuardMayLive) {
  MpiRuntime first(MeshBackend::kSingleProcess);
  EXPECT_EQ(MpiRuntime::current(), &first);
  EXPECT_THROW(MpiRuntime second(MeshBackend::kSingleProcess), InternalError);
}

TEST(MpiRuntime, BackendComesFromEnvironment) {
  const char* saved = std::getenv("MOE_MESH_BACKEND");
  const std::string saved_value = saved ? saved : "";
  setenv("MOE_MESH_BACKEND", "single", 1);
  EXPECT_EQ(resolve_mesh_backend(), MeshBackend::kSingleProcess);
  setenv("MOE_MESH_BACKEND", "mpi", 1);
  EXPECT_EQ(resolve_mesh_backend(), MeshBackend::kMpi);
  EXPECT_EQ(resolve_mesh_backend(MeshBackend::kSingleProcess), MeshBackend::kSingleProcess);
  setenv("MOE_MESH_BACKEND", "nccl", 1);
  try {
    resolve_mesh_backend();
    ADD_FAILURE() << "MOE_MESH_BACKEND=nccl accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("MOE_MESH_BACKEND='nccl'"), std::string::npos);
  }
  if (saved)
    setenv("MOE_MESH_BACKEND", saved_value.c_str(), 1);
  else
    unsetenv("MOE_MESH_BACKEND");
}

// A stand-in for a group of `size` ranks that all hold the same gradients:
// a sum over the group multiplies by `size`. Records every call's length.
class UniformGroup final : public Collectives {
 public:
  explicit UniformGroup(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  void all_reduce_sum(float* data, std::size_t count) override {
    calls.push_back(count);
    pointers.push_back(data);
    if (log != nullptr) log->push_back(name);
    for (std::size_t i = 0; i < count; ++i) data[i] *= static_cast<float>(size_);
  }
  void all_reduce_sum(double*, std::size_t) override { FAIL() << "unexpected double reduce"; }
  void all_to_all(const float*, float*, std::size_t) override { FAIL(); }
  void all_to_all(const double*, double*, std::size_t) override { FAIL(); }
  void all_gather(const float*, float*, std::size_t) override { FAIL(); }
  void broadcast(void*, std::size_t, int) override { FAIL(); }
  void barrier() override {}

  std::vector<std::size_t> calls;
  std::vector<const float*> pointers;
  std::vector<char>* log = nullptr;  // shared call order across groups
  char name = '?';

 private:
  int size_;
};

TEST(GradientBuckets, EachRangeIsSummedOnceOverItsGroupAndScaled) {
  UniformGroup world(4), data_axis(2);
  std::vector<float> grads(40);
  std::iota(grads.begin(), grads.end(), 1.0f);
  const std::vector<float> before = grads;
  // Interleaved replicated / expert tensors, a gap at [20, 22), one big tensor.
  const std::vector<GroupedGradientRange> ranges{
      {0, 5, &world},       {5, 7, &data_axis}, {12, 1, &world},
      {13, 7, &data_axis},  {22, 18, &world},   {39, 0, &data_axis}};
  GradientSync sync(grads, ranges, /*bucket_floats=*/8, /*scale=*/0.25f);
  EXPECT_EQ(sync.num_buckets(), 6u);
  sync.finish();
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const bool expert = (i >= 5 && i < 12) || (i >= 13 && i < 20);
    const bool gap = i >= 20 && i < 22;
    const float factor = gap ? 1.0f : (expert ? 2.0f : 4.0f) * 0.25f;
    EXPECT_EQ(grads[i], before[i] * factor) << "float " << i;
  }
  // World: the 18-float tensor in place as 8 + 8 + 2; [0,5) and [12,13) packed
  // into one staging bucket of 6, flushed last. Data axis: two 7-float tensors
  // do not fit one 8-float bucket together.
  EXPECT_EQ(world.calls, (std::vector<std::size_t>{8, 8, 2, 6}));
  EXPECT_EQ(data_axis.calls, (std::vector<std::size_t>{7, 7}));
  // Touching spans are reduced in place, the two scattered world spans staged.
  EXPECT_EQ(data_axis.pointers[0], grads.data() + 5);
  EXPECT_EQ(world.pointers[0], grads.data() + 22);
  EXPECT_TRUE(world.pointers[3] < grads.data() || world.pointers[3] >= grads.data() + 40);
}

TEST(GradientBuckets, SmallTensorsShareBucketsUpToTheCapacity) {
  UniformGroup world(3);
  std::vector<float> grads(12, 1.0f);
  std::vector<GroupedGradientRange> ranges;
  for (std::size_t offset = 0; offset < 12; offset += 3) ranges.push_back({offset, 2, &world});
  GradientSync(grads, ranges, /*bucket_floats=*/5, /*scale=*/1.0f).finish();
  EXPECT_EQ(world.calls, (std::vector<std::size_t>{4, 4}));
  for (std::size_t i = 0; i < grads.size(); ++i) EXPECT_EQ(grads[i], i % 3 == 2 ? 1.0f : 3.0f);
}

TEST(GradientBuckets, SingleRankGroupsOnlyScale) {
  UniformGroup alone(1);
  std::vector<float> grads{2, 4};
  const std::vector<GroupedGradientRange> ranges{{0, 2, &alone}};
  GradientSync sync(grads, ranges, 16, 0.5f);
  EXPECT_EQ(sync.num_buckets(), 0u);
  sync.finish();
  EXPECT_TRUE(alone.calls.empty());
  EXPECT_EQ(grads, (std::vector<float>{1, 2}));
}

TEST(GradientBuckets, RejectsRangesOutsideOrOverlapping) {
  UniformGroup world(2);
  std::vector<float> grads(10);
  const std::vector<GroupedGradientRange> outside{{8, 3, &world}};
  EXPECT_THROW(GradientSync(grads, outside, 4, 1.0f), InternalError);
  const std::vector<GroupedGradientRange> overlapping{{0, 5, &world}, {4, 2, &world}};
  EXPECT_THROW(GradientSync(grads, overlapping, 4, 1.0f), InternalError);
  EXPECT_TRUE(world.calls.empty());
}

TEST(GradientBuckets, BucketsStartInPlanOrderWhateverTheMarkOrder) {
  std::vector<char> log;
  UniformGroup world(2), data_axis(3);
  world.log = data_axis.log = &log;
  world.name = 'w';
  data_axis.name = 'd';
  std::vector<float> grads(12, 1.0f);
  // Three bucket-sized tensors: one bucket each, planned in list order.
  const std::vector<GroupedGradientRange> ranges{
      {0, 4, &world}, {4, 4, &data_axis}, {8, 4, &world}};
  GradientSync sync(grads, ranges, /*bucket_floats=*/4, /*scale=*/1.0f);
  for (int step = 1; step <= 2; ++step) {
    log.clear();
    sync.mark_ready(2);
    EXPECT_TRUE(log.empty()) << "bucket 2 started before bucket 0";
    sync.mark_ready(0);
    EXPECT_EQ(log, (std::vector<char>{'w'}));
    sync.mark_ready(1);
    EXPECT_EQ(log, (std::vector<char>{'w', 'd', 'w'}));
    EXPECT_THROW(sync.mark_ready(1), InternalError);
    sync.finish();
    // Each step sums once more: the plan resets after finish().
    const float w = step == 1 ? 2.0f : 4.0f, d = step == 1 ? 3.0f : 9.0f;
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(grads[i], i >= 4 && i < 8 ? d : w) << i;
  }
}

TEST(GradientBuckets, FinishMarksWhatWasNotMarked) {
  UniformGroup world(2);
  std::vector<float> grads{1, 1, 1};
  const std::vector<GroupedGradientRange> ranges{{0, 1, &world}, {2, 1, &world}};
  GradientSync sync(grads, ranges, 8, 1.0f);
  sync.mark_ready(1);
  sync.finish();
  EXPECT_EQ(grads, (std::vector<float>{2, 1, 2}));
  EXPECT_EQ(world.calls, (std::vector<std::size_t>{2}));
}

TEST(GradientBuckets, MeshHelperOnOneRankAveragesOverWorldOfOne) {
  MpiRuntime runtime(MeshBackend::kSingleProcess);
  Mesh mesh(runtime, parse_mesh_spec("data=1,expert=1"));
  std::vector<float> grads{1, 2, 3, 4};
  const std::vector<GradientRange> ranges{{0, 2, ""}, {2, 2, "expert"}};
  all_reduce_gradients(mesh, grads, ranges);
  EXPECT_EQ(grads, (std::vector<float>{1, 2, 3, 4}));
  const std::vector<GradientRange> bad_axis{{0, 2, "pipeline"}};
  EXPECT_THROW(all_reduce_gradients(mesh, grads, bad_axis), InputError);
}

TEST(MetricsReduction, OneRankReturnsItsOwnValues) {
  SingleProcess one;
  const std::vector<double> values{2.5, 10, -1, 4};
  const std::vector<MetricReduction> how{MetricReduction::kMean, MetricReduction::kSum,
                                         MetricReduction::kMax, MetricReduction::kMin};
  EXPECT_EQ(reduce_metrics_to_root(one, values, how), values);
  EXPECT_THROW(reduce_metrics_to_root(one, values, std::span(how).first(2)), InternalError);
}

TEST(RunOnMesh, ReturnsTheBodysExitCode) {
  EXPECT_EQ(run_on_mesh("moe-test", [](MpiRuntime& runtime) { return runtime.world_size() + 6; },
                        MeshBackend::kSingleProcess),
            7);
}

TEST(RunOnMesh, InputErrorPrintsOneLineAndExitsOne) {
  testing::internal::CaptureStderr();
  const int code = run_on_mesh(
      "moe-test", [](MpiRuntime&) -> int { throw InputError("recipe.yaml:3: bad key 'x'"); },
      MeshBackend::kSingleProcess);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "moe-test: error: recipe.yaml:3: bad key 'x'\n");
}

TEST(RunOnMesh, OtherExceptionsExitTwo) {
  testing::internal::CaptureStderr();
  const int code = run_on_mesh(
      "moe-test", [](MpiRuntime&) -> int { throw std::runtime_error("out of memory"); },
      MeshBackend::kSingleProcess);
  EXPECT_EQ(code, 2);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "moe-test: error: out of memory\n");
}

TEST(RunOnMesh, MessagesWithControlBytesStayOneLine) {
  testing::internal::CaptureStderr();
  const int code = run_on_mesh(
      "moe-test",
      [](MpiRuntime&) -> int {
        throw InputError("r.yaml:2: unknown escape character: \x1f\n\xff");
      },
      MeshBackend::kSingleProcess);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "moe-test: error: r.yaml:2: unknown escape character: \\x1F\\x0A\\xFF\n");
}

TEST(RunOnMesh, FilesystemErrorsAreInputErrorsNamingThePath) {
  testing::internal::CaptureStderr();
  const int code = run_on_mesh(
      "moe-test",
      [](MpiRuntime&) -> int {
        std::filesystem::create_directories("/proc/self/status/x");  // under a regular file
        return 0;
      },
      MeshBackend::kSingleProcess);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "moe-test: error: /proc/self/status/x: Not a directory\n");
}

}  // namespace
}  // namespace moe
