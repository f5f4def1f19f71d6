// Tests that need several MPI ranks. They run only when this binary was started
// by mpirun (or with MOE_MESH_BACKEND=mpi, as a 1-rank MPI singleton) and are
// skipped otherwise; mpi_launch_test.cpp starts them that way. Every rank runs
// the same tests in the same order, so their collectives match up. Checks use
// EXPECT, not ASSERT, ahead of later collectives: a rank leaving a test early
// would leave the others waiting (the launcher's timeout still catches that).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <vector>

#include "mesh/gradient_reduce.h"
#include "mesh/mesh.h"
#include "mesh/metrics_reduce.h"
#include "mesh/mpi_collectives.h"
#include "mesh/run_on_mesh.h"
#include "util/error.h"

namespace moe {
namespace {

// The process's MPI runtime, started on first use and finalized at exit; null
// when this process is not an MPI worker.
MpiRuntime* worker_runtime() {
  static std::optional<MpiRuntime> runtime;
  if (!runtime && resolve_mesh_backend() == MeshBackend::kMpi) runtime.emplace(MeshBackend::kMpi);
  return runtime ? &*runtime : nullptr;
}

#define REQUIRE_MPI_WORKER()                                                  \
  MpiRuntime* runtime = worker_runtime();                                     \
  if (runtime == nullptr) GTEST_SKIP() << "not started by mpirun (see mpi_launch_test.cpp)"

#define REQUIRE_RANKS(n)                                                          \
  REQUIRE_MPI_WORKER();                                                           \
  if (runtime->world_size() != (n)) GTEST_SKIP() << "needs exactly " << (n) << " ranks"

// Chunk limits to run every exchange through both the single-call path and the
// split path that long (> INT_MAX) buffers take.
constexpr std::size_t kChunkLimits[] = {static_cast<std::size_t>(INT_MAX), 3, 1};

TEST(MpiWorker, AllReduceSumsFloatsAndDoubles) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const int p = world.size(), r = world.rank();
  for (std::size_t limit : kChunkLimits) {
    world.set_max_elements_per_call(limit);
    std::vector<float> f(10);
    std::vector<double> d(10);
    for (int i = 0; i < 10; ++i) f[i] = static_cast<float>(r * 100 + i), d[i] = r * 0.5 + i;
    world.all_reduce_sum(f.data(), f.size());
    world.all_reduce_sum(d.data(), d.size());
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(f[i], static_cast<float>(100 * p * (p - 1) / 2 + p * i)) << "limit " << limit;
      EXPECT_EQ(d[i], 0.5 * p * (p - 1) / 2 + p * i) << "limit " << limit;
    }
  }
}

TEST(MpiWorker, AllToAllSendsBlockRToRankR) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const int p = world.size(), r = world.rank();
  constexpr int kBlock = 5;
  // Element j of the block rank `from` sends to rank `to`.
  auto value = [](int from, int to, int j) { return from * 1000 + to * 10 + j; };
  for (std::size_t limit : kChunkLimits) {
    world.set_max_elements_per_call(limit);
    std::vector<float> send_f(p * kBlock), recv_f(p * kBlock, -1);
    std::vector<double> send_d(p * kBlock), recv_d(p * kBlock, -1);
    for (int to = 0; to < p; ++to)
      for (int j = 0; j < kBlock; ++j)
        send_f[to * kBlock + j] = send_d[to * kBlock + j] = value(r, to, j);
    world.all_to_all(send_f.data(), recv_f.data(), kBlock);
    world.all_to_all(send_d.data(), recv_d.data(), kBlock);
    for (int from = 0; from < p; ++from)
      for (int j = 0; j < kBlock; ++j) {
        EXPECT_EQ(recv_f[from * kBlock + j], value(from, r, j)) << "limit " << limit;
        EXPECT_EQ(recv_d[from * kBlock + j], value(from, r, j)) << "limit " << limit;
      }
  }
}

TEST(MpiWorker, AllGatherOrdersBlocksByRank) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const int p = world.size(), r = world.rank();
  for (std::size_t limit : kChunkLimits) {
    world.set_max_elements_per_call(limit);
    std::vector<float> mine{r * 10.0f, r * 10.0f + 1, r * 10.0f + 2, r * 10.0f + 3};
    std::vector<float> all(4 * p, -1);
    world.all_gather(mine.data(), all.data(), mine.size());
    for (int from = 0; from < p; ++from)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(all[from * 4 + j], from * 10.0f + j) << limit;
  }
}

TEST(MpiWorker, BroadcastCopiesRootsBytes) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const int root = world.size() - 1;
  for (std::size_t limit : kChunkLimits) {
    world.set_max_elements_per_call(limit);
    char text[] = "from the last rank";
    if (world.rank() != root) std::memset(text, '?', sizeof text - 1);
    world.broadcast(text, sizeof text, root);
    EXPECT_STREQ(text, "from the last rank") << "limit " << limit;
  }
  world.barrier();
}

// The non-blocking sum through the Collectives interface (what GradientSync
// calls), chunked or not, and two sums in flight at once.
TEST(MpiWorker, StartedAllReduceSumsInPlace) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  Collectives& group = world;
  const int p = world.size(), r = world.rank();
  for (std::size_t limit : kChunkLimits) {
    world.set_max_elements_per_call(limit);
    std::vector<float> a(7), b(4);
    for (int i = 0; i < 7; ++i) a[i] = static_cast<float>(r + i);
    for (int i = 0; i < 4; ++i) b[i] = static_cast<float>(10 * r);
    std::unique_ptr<PendingCollective> first = group.start_all_reduce_sum(a.data(), a.size());
    std::unique_ptr<PendingCollective> second = group.start_all_reduce_sum(b.data(), b.size());
    ASSERT_NE(first, nullptr);
    while (!second->done()) {
    }
    first->wait();
    EXPECT_TRUE(first->done());
    for (int i = 0; i < 7; ++i) EXPECT_EQ(a[i], static_cast<float>(p * (p - 1) / 2 + p * i)) << limit;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(b[i], static_cast<float>(10 * p * (p - 1) / 2)) << limit;
  }
}

// traffic() counts calls and the caller's buffer bytes per kind of call, and
// time spent inside MPI; reset_traffic() starts over.
TEST(MpiWorker, TrafficCountsCallsAndBufferBytes) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const std::size_t p = static_cast<std::size_t>(world.size());
  world.set_max_elements_per_call(3);  // a chunked call still counts once
  std::vector<float> grads(10, 1.0f), send(5 * p, 1.0f), recv(5 * p);
  double flag = 1;
  world.all_reduce_sum(grads.data(), grads.size());
  world.all_reduce_sum(&flag, 1);
  world.start_all_reduce_sum(grads.data(), 4)->wait();
  world.all_to_all(send.data(), recv.data(), 5);
  world.all_to_all(send.data(), recv.data(), 5);
  world.all_gather(send.data(), recv.data(), 2);
  char text[6] = "bytes";
  world.broadcast(text, sizeof text, 0);
  const CollectiveStats& t = world.traffic();
  EXPECT_EQ(t.all_reduce.calls, 3u);
  EXPECT_EQ(t.all_reduce.bytes, 10 * sizeof(float) + sizeof(double) + 4 * sizeof(float));
  EXPECT_EQ(t.all_to_all.calls, 2u);
  EXPECT_EQ(t.all_to_all.bytes, 2 * 5 * p * sizeof(float));
  EXPECT_EQ(t.all_gather.calls, 1u);
  EXPECT_EQ(t.all_gather.bytes, 2 * p * sizeof(float));
  EXPECT_EQ(t.broadcast.bytes, sizeof text);
  EXPECT_GT(t.all_to_all.seconds, 0.0);
  world.reset_traffic();
  EXPECT_EQ(world.traffic().all_reduce.calls, 0u);
  EXPECT_EQ(world.traffic().all_to_all.seconds, 0.0);
}

TEST(MpiWorker, CollectivesOnOwnCommunicatorIgnoreOtherTraffic) {
  REQUIRE_MPI_WORKER();
  // Two wrappers of the same communicator are separate duplicates: interleaved
  // collectives on them cannot match each other's messages.
  MpiCollectives a(MPI_COMM_WORLD), b(MPI_COMM_WORLD);
  double x = 1, y = 2;
  a.all_reduce_sum(&x, 1);
  b.all_reduce_sum(&y, 1);
  EXPECT_EQ(x, a.size());
  EXPECT_EQ(y, 2.0 * b.size());
}

TEST(MpiWorker, OneAxisMeshIsTheWorld) {
  REQUIRE_MPI_WORKER();
  Mesh mesh(*runtime, MeshSpec{{{"data", runtime->world_size()}}});
  EXPECT_TRUE(mesh.uses_mpi());
  EXPECT_EQ(mesh.coord("data"), runtime->world_rank());
  EXPECT_EQ(mesh.axis("data").size(), runtime->world_size());
  EXPECT_EQ(mesh.axis("data").rank(), runtime->world_rank());
  EXPECT_EQ(mesh.all_axes_but("data").size(), 1);
}

TEST(MpiWorker, WrongSizedSpecIsAnInputErrorOnEveryRank) {
  REQUIRE_MPI_WORKER();
  const int n = runtime->world_size();
  try {
    Mesh mesh(*runtime, MeshSpec{{{"data", n}, {"expert", 2}}});
    ADD_FAILURE() << "mesh of " << 2 * n << " ranks built on " << n;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("needs " + std::to_string(2 * n) + " ranks"),
              std::string::npos);
  }
}

TEST(MpiWorker, MetricsReduceToRoot) {
  REQUIRE_MPI_WORKER();
  MpiCollectives world(MPI_COMM_WORLD);
  const int p = world.size(), r = world.rank();
  const std::vector<MetricReduction> how{MetricReduction::kSum, MetricReduction::kMean,
                                         MetricReduction::kMax, MetricReduction::kMin,
                                         MetricReduction::kMax};
  const double nan = std::nan("");
  const std::vector<double> values{1.0 + r, 2.0 * r, -1.0 * r, 10.0 + r, r == p - 1 ? nan : 0.0};
  for (int root : {0, p - 1}) {
    const std::vector<double> got = reduce_metrics_to_root(world, values, how, root);
    if (r != root) {
      EXPECT_TRUE(got.empty());
      continue;
    }
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0], p + p * (p - 1) / 2.0);
    EXPECT_EQ(got[1], (p - 1.0));  // mean of 2r over r < p
    EXPECT_EQ(got[2], 0.0);
    EXPECT_EQ(got[3], 10.0);
    EXPECT_TRUE(std::isnan(got[4])) << "a NaN on one rank must reach the log";
  }
}

TEST(MpiWorker, ReplicatedGradientsAverageOverTheWorld) {
  REQUIRE_MPI_WORKER();
  Mesh mesh(*runtime, MeshSpec{{{"data", runtime->world_size()}}});
  const int p = mesh.size();
  std::vector<float> grads(100);
  for (int i = 0; i < 100; ++i) grads[i] = static_cast<float>((mesh.rank() + 1) * i);
  const std::vector<GradientRange> ranges{{0, 60, ""}, {60, 40, ""}};
  all_reduce_gradients(mesh, grads, ranges, {.bucket_bytes = 32 * sizeof(float)});
  for (int i = 0; i < 100; ++i)
    EXPECT_FLOAT_EQ(grads[i], static_cast<float>(i) * (p + 1) / 2.0f) << i;
}

// --- {data: 2, expert: 2}: run with 4 ranks --------------------------------

// World ranks of the members of `group`, in the group's rank order.
std::vector<float> members(Collectives& group, int world_rank) {
  const float mine = static_cast<float>(world_rank);
  std::vector<float> all(static_cast<std::size_t>(group.size()));
  group.all_gather(&mine, all.data(), 1);
  return all;
}

TEST(MpiWorker, DataExpertMeshGroupsFollowTheRowMajorLayout) {
  REQUIRE_RANKS(4);
  Mesh mesh(*runtime, parse_mesh_spec("data=2,expert=2"));
  const int r = mesh.rank(), d = r / 2, e = r % 2;
  EXPECT_EQ(mesh.coords(), (std::vector<int>{d, e}));
  EXPECT_EQ(mesh.axis("expert").rank(), e);
  EXPECT_EQ(mesh.axis("data").rank(), d);
  using V = std::vector<float>;
  // The expert group of data replica d: ranks 2d, 2d+1 (neighbours).
  EXPECT_EQ(members(mesh.axis("expert"), r), (V{2.0f * d, 2.0f * d + 1}));
  // The replicas of expert shard e: ranks e, 2+e.
  EXPECT_EQ(members(mesh.axis("data"), r), (V{1.0f * e, 2.0f + e}));
  EXPECT_EQ(members(mesh.all_axes_but("expert"), r), (V{1.0f * e, 2.0f + e}));
  EXPECT_EQ(members(mesh.all_axes_but("data"), r), (V{2.0f * d, 2.0f * d + 1}));
  EXPECT_EQ(members(mesh.world(), r), (V{0, 1, 2, 3}));
  EXPECT_EQ(mesh.describe_rank(),
            "rank " + std::to_string(r) + " (data=" + std::to_string(d) +
                ",expert=" + std::to_string(e) + ")");
}

TEST(MpiWorker, DataExpertGradientBucketsMixReplicatedAndExpertRanges) {
  REQUIRE_RANKS(4);
  Mesh mesh(*runtime, parse_mesh_spec("data=2,expert=2"));
  const int r = mesh.rank(), e = r % 2;
  const std::vector<GradientRange> ranges{{0, 5, ""},        {5, 7, "expert"},
                                          {12, 1, ""},       {13, 7, "expert"},
                                          {22, 18, ""}};  // [20, 22) belongs to nobody
  auto local = [r](int i) { return static_cast<float>((r + 1) * (i + 1)); };
  // Small buckets (packing and in-place splitting) and one big bucket agree.
  for (std::size_t bucket_bytes : {std::size_t{8 * sizeof(float)}, std::size_t{25u << 20}}) {
    for (GradientScaling scaling : {GradientScaling::kSum, GradientScaling::kMeanOverWorld}) {
      std::vector<float> grads(40);
      for (int i = 0; i < 40; ++i) grads[i] = local(i);
      all_reduce_gradients(mesh, grads, ranges, {bucket_bytes, scaling});
      const float scale = scaling == GradientScaling::kSum ? 1.0f : 0.25f;
      for (int i = 0; i < 40; ++i) {
        const bool expert = (i >= 5 && i < 12) || (i >= 13 && i < 20);
        float expected;
        if (i >= 20 && i < 22)
          expected = local(i);  // outside every range: untouched, unscaled
        else if (expert)  // summed over ranks e and 2+e, the replicas of shard e
          expected = static_cast<float>((e + 1 + e + 3) * (i + 1)) * scale;
        else  // summed over all four ranks: 1 + 2 + 3 + 4
          expected = static_cast<float>(10 * (i + 1)) * scale;
        EXPECT_FLOAT_EQ(grads[i], expected) << "float " << i << " bucket " << bucket_bytes;
      }
    }
  }
}

TEST(MpiWorker, DataExpertOverlappedSyncMatchesOneShotReduce) {
  REQUIRE_RANKS(4);
  Mesh mesh(*runtime, parse_mesh_spec("data=2,expert=2"));
  // Split every non-blocking all-reduce into several MPI requests too.
  for (Collectives* group : {&mesh.world(), &mesh.all_axes_but("expert")})
    dynamic_cast<MpiCollectives&>(*group).set_max_elements_per_call(3);
  // Ranges listed in backward order: the last layer's tensors first.
  const std::vector<GradientRange> ranges{{30, 10, ""}, {20, 10, "expert"}, {12, 8, ""},
                                          {4, 8, "expert"}, {0, 4, ""}};
  auto fill = [&](std::vector<float>& g, int step) {
    for (std::size_t i = 0; i < g.size(); ++i)
      g[i] = static_cast<float>((mesh.rank() + 1) * (static_cast<int>(i) + step));
  };
  std::vector<float> overlapped(40), expected(40);
  GradientSync sync(mesh, overlapped, ranges, {.bucket_bytes = 12 * sizeof(float)});
  EXPECT_GT(sync.num_buckets(), 3u);
  for (int step = 0; step < 2; ++step) {
    fill(overlapped, step);
    fill(expected, step);
    // Ranks finish their tensors in different orders; buckets still start in
    // plan order on every rank.
    const std::vector<std::size_t> order = mesh.rank() % 2 == 0
                                               ? std::vector<std::size_t>{0, 1, 2, 3, 4}
                                               : std::vector<std::size_t>{4, 2, 0, 3, 1};
    for (std::size_t index : order) sync.mark_ready(index);
    sync.finish();
    all_reduce_gradients(mesh, expected, ranges);
    for (std::size_t i = 0; i < 40; ++i) EXPECT_FLOAT_EQ(overlapped[i], expected[i]) << i;
  }
}

// The averaging convention against the gradient of the global loss, on a toy
// MoE: each rank's loss is the mean over its tokens of w[expert(t)] * x_t + b * x_t,
// the training loss is the mean of the 4 rank losses. Expert e's weight lives
// on the ranks with expert coordinate e; b is replicated.
TEST(MpiWorker, DataExpertAveragedGradientsAreThoseOfTheGlobalMeanLoss) {
  REQUIRE_RANKS(4);
  Mesh mesh(*runtime, parse_mesh_spec("data=2,expert=2"));
  const int r = mesh.rank();
  constexpr int kExperts = 2;
  // This rank's tokens: value x and routed expert, different counts per rank.
  std::vector<std::pair<float, int>> tokens;
  for (int t = 0; t < 3 + r; ++t) tokens.push_back({0.5f * (t + 1) + r, (t * 7 + r) % kExperts});
  // d(rank loss)/d w[e] for every e, and d(rank loss)/d b, on this rank.
  std::vector<float> partial(kExperts, 0.0f);
  float d_bias = 0;
  for (const auto& [x, expert] : tokens) {
    partial[expert] += x / static_cast<float>(tokens.size());
    d_bias += x / static_cast<float>(tokens.size());
  }
  // What the MoE backward leaves on this rank: the all-to-all along "expert"
  // brings every group member's contribution to this rank's expert.
  Collectives& expert_group = mesh.axis("expert");
  std::vector<float> from_group(kExperts);
  expert_group.all_to_all(partial.data(), from_group.data(), 1);
  std::vector<float> grads{d_bias, from_group[0] + from_group[1]};
  const std::vector<GradientRange> ranges{{0, 1, ""}, {1, 1, "expert"}};
  all_reduce_gradients(mesh, grads, ranges);

  // The exact gradient of the global loss: (1/4) * sum over ranks of partials.
  std::vector<float> all_partials(4 * kExperts), all_bias(4);
  mesh.world().all_gather(partial.data(), all_partials.data(), kExperts);
  mesh.world().all_gather(&d_bias, all_bias.data(), 1);
  const int my_expert = mesh.coord("expert");
  float expected_w = 0, expected_b = 0;
  for (int q = 0; q < 4; ++q) {
    expected_w += all_partials[q * kExperts + my_expert] / 4;
    expected_b += all_bias[q] / 4;
  }
  EXPECT_FLOAT_EQ(grads[0], expected_b);
  EXPECT_FLOAT_EQ(grads[1], expected_w);
}

// --- fault handling: run only by MpiLaunch.ExceptionOnOneRankAbortsTheJob ----

TEST(MpiFault, ExceptionOnOneRankWhileOthersWait) {
  if (std::getenv("MOE_MESH_TEST_FAULT") == nullptr) GTEST_SKIP() << "started by MpiLaunch only";
  const int failing_rank = std::atoi(std::getenv("MOE_MESH_TEST_FAULT"));
  const int code = run_on_mesh("test_mesh", [&](MpiRuntime& rt) {
    Mesh mesh(rt, MeshSpec{{{"data", rt.world_size()}}});
    if (mesh.rank() == failing_rank) throw InputError("injected failure");
    mesh.world().barrier();  // never completes: the failing rank does not arrive
    return 0;
  });
  ADD_FAILURE() << "run_on_mesh returned " << code << " instead of aborting the job";
}

}  // namespace
}  // namespace moe
