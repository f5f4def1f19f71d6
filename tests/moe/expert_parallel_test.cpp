// Expert parallelism (GSHARD.md §5.2): D "ranks" as threads over an
// in-process Collectives must reproduce the single-rank layer exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "moe/moe_layer.h"
#include "moe_test_util.h"
#include "util/collectives.h"

namespace moe {
namespace {

using testing::fill_uniform;
using testing::LayerWeights;
using testing::random_nonpad;

// Shared-memory mesh: each collective publishes its buffer, waits for all
// ranks, reads the others', and waits again before buffers may be reused.
class ThreadMesh {
 public:
  explicit ThreadMesh(int size) : size_(size), sync_(size), published_(size) {}
  int size() const { return size_; }
  void publish(int rank, const void* p) { published_[rank] = p; }
  const void* published(int rank) const { return published_[rank]; }
  void wait() { sync_.arrive_and_wait(); }

 private:
  int size_;
  std::barrier<> sync_;
  std::vector<const void*> published_;
};

class ThreadRank final : public Collectives {
 public:
  ThreadRank(ThreadMesh& mesh, int rank) : mesh_(mesh), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return mesh_.size(); }
  void all_reduce_sum(float* data, std::size_t count) override { reduce(data, count); }
  void all_reduce_sum(double* data, std::size_t count) override { reduce(data, count); }
  void all_to_all(const float* send, float* recv, std::size_t block) override { exchange(send, recv, block); }
  void all_to_all(const double* send, double* recv, std::size_t block) override { exchange(send, recv, block); }
  void all_gather(const float* send, float* recv, std::size_t block) override {
    mesh_.publish(rank_, send);
    mesh_.wait();
    for (int r = 0; r < size(); ++r) {
      const float* from = static_cast<const float*>(mesh_.published(r));
      std::copy(from, from + block, recv + r * block);
    }
    mesh_.wait();
  }
  void broadcast(void* data, std::size_t bytes, int root) override {
    mesh_.publish(rank_, data);
    mesh_.wait();
    if (rank_ != root) std::memcpy(data, mesh_.published(root), bytes);
    mesh_.wait();
  }
  void barrier() override { mesh_.wait(); }
  int exchanges = 0;

 private:
  template <typename T>
  void exchange(const T* send, T* recv, std::size_t block) {
    ++exchanges;
    mesh_.publish(rank_, send);
    mesh_.wait();
    for (int r = 0; r < size(); ++r) {
      const T* from = static_cast<const T*>(mesh_.published(r)) + rank_ * block;
      std::copy(from, from + block, recv + r * block);
    }
    mesh_.wait();
  }
  template <typename T>
  void reduce(T* data, std::size_t count) {
    std::vector<T> sum(count, T(0));
    mesh_.publish(rank_, data);
    mesh_.wait();
    for (int r = 0; r < size(); ++r) {
      const T* from = static_cast<const T*>(mesh_.published(r));
      for (std::size_t i = 0; i < count; ++i) sum[i] += from[i];
    }
    mesh_.wait();
    std::copy(sum.begin(), sum.end(), data);
  }
  ThreadMesh& mesh_;
  int rank_;
};

TEST(MoeThreadMesh, AllToAllDeliversBlockRFromRankR) {
  const int D = 3;
  ThreadMesh mesh(D);
  std::vector<std::vector<double>> got(D, std::vector<double>(2 * D));
  std::vector<std::thread> threads;
  for (int r = 0; r < D; ++r)
    threads.emplace_back([&, r] {
      ThreadRank rank(mesh, r);
      std::vector<double> send(2 * D);
      for (int i = 0; i < 2 * D; ++i) send[i] = 100 * r + i;
      rank.all_to_all(send.data(), got[r].data(), 2);
    });
  for (auto& t : threads) t.join();
  // Rank 1 receives from rank r the block r sent to rank 1: elements 2, 3.
  EXPECT_EQ(got[1], (std::vector<double>{2, 3, 102, 103, 202, 203}));
}

struct Problem {
  int M = 5, H = 7, E = 8, S = 6, groups_per_rank = 2;
  MoeConfig cfg;
  Problem(int capacity, SecondExpertPolicy policy, int top_k) {
    cfg.num_experts = E;
    cfg.group_size = S;
    cfg.capacity = capacity;
    cfg.min_capacity = 1;
    cfg.second_expert_policy = policy;
    cfg.top_k = top_k;
  }
};

void expect_ranks_match_single(const Problem& pb, int D) {
  SCOPED_TRACE("D=" + std::to_string(D) + " policy=" + to_string(pb.cfg.second_expert_policy) +
               " top_k=" + std::to_string(pb.cfg.top_k));
  const int M = pb.M, H = pb.H, E = pb.E, L = E / D;
  const int n_local = pb.S * pb.groups_per_rank, N = n_local * D;
  Rng init(17);
  LayerWeights<double> w(M, H, E, E);
  w.randomise(init);
  Tensor<double> x(Shape{N, M}), dy(Shape{N, M});
  fill_uniform(x, init, 1.0);
  fill_uniform(dy, init, 1.0);
  const std::vector<std::uint8_t> nonpad = random_nonpad(N, init);
  const double d_aux = 0.4;

  // One rank holding every token and expert.
  MoeLayer<double> single(pb.cfg, M, H, nullptr);
  Tensor<double> y(Shape{N, M}), dx(Shape{N, M});
  LayerWeights<double> g(M, H, E, E);
  Rng rng(5);
  const MoeStats st = single.forward(w.params(), x.view(), nonpad.data(), y.view(), true, rng);
  single.backward(w.params(), g.params(), dy.view(), d_aux, dx.view());
  if (pb.cfg.capacity > 0) {
    ASSERT_GT(st.dropped_first_fraction + st.dropped_second_fraction, 0.0);
  }

  // D ranks: rank r holds tokens [r*n_local, (r+1)*n_local) and experts [r*L, (r+1)*L).
  ThreadMesh mesh(D);
  std::vector<Tensor<double>> ys(D), dxs(D), wis(D), wos(D), gwis(D), gwos(D), gwgs(D);
  std::vector<double> aux(D);
  std::vector<int> exchanges(D);
  std::exception_ptr failure;
  std::mutex failure_lock;
  std::vector<std::thread> threads;
  for (int r = 0; r < D; ++r)
    threads.emplace_back([&, r] {
      try {
        ThreadRank rank(mesh, r);
        LayerWeights<double> wr(M, H, E, L), gr(M, H, E, L);
        wr.wg.view().copy_from(w.wg.view());
        std::copy(w.wi.data() + r * L * M * H, w.wi.data() + (r + 1) * L * M * H, wr.wi.data());
        std::copy(w.wo.data() + r * L * H * M, w.wo.data() + (r + 1) * L * H * M, wr.wo.data());
        const TensorView<const double> xr(x.data() + r * n_local * M, Shape{n_local, M});
        const TensorView<const double> dyr(dy.data() + r * n_local * M, Shape{n_local, M});
        ys[r] = Tensor<double>(Shape{n_local, M});
        dxs[r] = Tensor<double>(Shape{n_local, M});
        // The same draw stream as the single rank: skip the earlier ranks' real tokens.
        Rng rank_rng(5);
        rank_rng.engine().discard(static_cast<unsigned long long>(
            std::count(nonpad.begin(), nonpad.begin() + r * n_local, 1)));
        MoeLayer<double> layer(pb.cfg, M, H, &rank);
        EXPECT_EQ(layer.local_experts(), L);
        aux[r] = layer.forward(wr.params(), xr, nonpad.data() + r * n_local, ys[r].view(), true, rank_rng)
                     .aux_loss;
        layer.backward(wr.params(), gr.params(), dyr, d_aux / D, dxs[r].view());
        gwis[r] = gr.wi;
        gwos[r] = gr.wo;
        gwgs[r] = gr.wg;
        exchanges[r] = rank.exchanges;
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_lock);
        failure = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  const double tol = 1e-12;
  double mean_aux = 0;
  for (int r = 0; r < D; ++r) {
    mean_aux += aux[r] / D;
    // counts, tokens out, outputs back; backward: gradients out, gradients back.
    EXPECT_EQ(exchanges[r], 5);
    for (int i = 0; i < n_local * M; ++i) {
      ASSERT_NEAR(ys[r][i], y[r * n_local * M + i], tol) << "y rank " << r << " element " << i;
      ASSERT_NEAR(dxs[r][i], dx[r * n_local * M + i], tol) << "dx rank " << r << " element " << i;
    }
    for (int i = 0; i < L * M * H; ++i) {
      ASSERT_NEAR(gwis[r][i], g.wi[r * L * M * H + i], tol) << "dwi rank " << r;
      ASSERT_NEAR(gwos[r][i], g.wo[r * L * M * H + i], tol) << "dwo rank " << r;
    }
  }
  // Equal groups per rank: the mean of the ranks' aux is the global aux, and
  // the replicated gate's gradient is the sum of the ranks' contributions.
  EXPECT_NEAR(mean_aux, st.aux_loss, tol);
  for (int i = 0; i < M * E; ++i) {
    double sum = 0;
    for (int r = 0; r < D; ++r) sum += gwgs[r][i];
    ASSERT_NEAR(sum, g.wg[i], tol) << "dwg element " << i;
  }
}

TEST(ExpertParallel, RanksReproduceTheSingleRankLayer) {
  for (int D : {2, 4}) {
    expect_ranks_match_single(Problem(1, SecondExpertPolicy::kAll, 2), D);     // drops
    expect_ranks_match_single(Problem(0, SecondExpertPolicy::kAll, 2), D);     // roomy
    expect_ranks_match_single(Problem(1, SecondExpertPolicy::kRandom, 2), D);  // same draws
    expect_ranks_match_single(Problem(1, SecondExpertPolicy::kAll, 1), D);     // top-1
  }
}

TEST(ExpertParallel, RanksWithDifferentTokenCountsMatchTheirOwnSingleRankLayer) {
  // Data shares of unequal length: rank 0 holds 2 groups, rank 1 one partial
  // group. The exchange sizes its blocks by the larger; each rank's outputs
  // are those of one process holding every expert and only that rank's tokens.
  const int D = 2, M = 4, H = 3, E = 4, L = E / D;
  MoeConfig cfg;
  cfg.num_experts = E;
  cfg.group_size = 6;
  cfg.capacity = 3;  // some drops
  cfg.min_capacity = 1;
  cfg.second_expert_policy = SecondExpertPolicy::kAll;
  const int counts[D] = {12, 5};
  Rng init(3);
  LayerWeights<double> w(M, H, E, E);
  w.randomise(init);
  std::vector<Tensor<double>> xs, want;
  for (int r = 0; r < D; ++r) {
    xs.emplace_back(Shape{counts[r], M});
    fill_uniform(xs[r], init, 1.0);
    want.emplace_back(Shape{counts[r], M});
    MoeLayer<double> single(cfg, M, H, nullptr);
    Rng rng(1);
    single.forward(w.params(), xs[r].view(), nullptr, want[r].view(), true, rng);
  }
  ThreadMesh mesh(D);
  std::vector<Tensor<double>> got(D);
  std::vector<std::thread> threads;
  for (int r = 0; r < D; ++r)
    threads.emplace_back([&, r] {
      ThreadRank rank(mesh, r);
      LayerWeights<double> wr(M, H, E, L);
      wr.wg.view().copy_from(w.wg.view());
      std::copy(w.wi.data() + r * L * M * H, w.wi.data() + (r + 1) * L * M * H, wr.wi.data());
      std::copy(w.wo.data() + r * L * H * M, w.wo.data() + (r + 1) * L * H * M, wr.wo.data());
      got[r] = Tensor<double>(Shape{counts[r], M});
      Rng rng(1);
      MoeLayer<double> layer(cfg, M, H, &rank);
      layer.forward(wr.params(), xs[r].view(), nullptr, got[r].view(), true, rng);
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < D; ++r)
    for (int i = 0; i < counts[r] * M; ++i) ASSERT_NEAR(got[r][i], want[r][i], 1e-12) << "rank " << r << " element " << i;
}

TEST(ExpertParallel, RejectsExpertsThatDoNotSplitEvenly) {
  ThreadMesh mesh(3);
  ThreadRank rank(mesh, 0);
  MoeConfig cfg;
  cfg.num_experts = 8;
  EXPECT_THROW(MoeLayer<float>(cfg, 4, 4, &rank), InputError);
  // A one-rank axis is the plain local path.
  ThreadMesh one(1);
  ThreadRank solo(one, 0);
  EXPECT_EQ(MoeLayer<float>(cfg, 4, 4, &solo).local_experts(), 8);
}

}  // namespace
}  // namespace moe
