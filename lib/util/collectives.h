#pragma once
// The collectives a layer may need, as an interface: the MoE layer and the
// trainer talk to the device mesh only through this, so layer tests run in
// one process. lib/mesh implements it over MPI; SingleProcess is the 1-rank
// mesh (every collective is the identity) used when no mpirun is involved.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace moe {

// A collective started by a non-blocking call. Its buffers must stay alive and
// untouched until done() returned true or wait() returned.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // True once complete; each call also lets the transport progress it.
  virtual bool done() = 0;
  virtual void wait() = 0;
};

// What one group's collectives moved since the last reset_traffic(), per kind
// of call, for benchmarks (bench_mesh --step) and logs. `bytes` is the buffer
// the caller passed, whatever the algorithm sends: all-reduce count x element;
// all-to-all and all-gather the whole send (resp. receive) buffer, size() x
// block x element, of which the (size()-1)/size() share leaves the rank;
// broadcast the bytes. `seconds` is wall time spent inside the calls (for a
// non-blocking all-reduce: inside start, done() and wait()), i.e. the time the
// caller was held up, not the transfer's duration.
struct CollectiveTraffic {
  std::uint64_t calls = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};
struct CollectiveStats {
  CollectiveTraffic all_reduce, all_to_all, all_gather, broadcast;
};

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place element-wise sum over all ranks of `count` floats.
  virtual void all_reduce_sum(float* data, std::size_t count) = 0;
  virtual void all_reduce_sum(double* data, std::size_t count) = 0;
  // The same sum, started without waiting: data [count] is summed in place by
  // the time the returned handle is done (never null). Every rank of the group
  // starts its non-blocking collectives in the same order. The default runs
  // the blocking all_reduce_sum and returns a finished handle (implementations
  // without a non-blocking transport, test fakes); MpiCollectives overrides it
  // with MPI_Iallreduce, which is what lets GradientSync overlap the gradient
  // all-reduce with backward.
  virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data, std::size_t count);
  // send: size() blocks of `block` floats, block r goes to rank r;
  // recv: size() blocks, block r came from rank r. send and recv must not alias.
  virtual void all_to_all(const float* send, float* recv, std::size_t block) = 0;
  virtual void all_to_all(const double* send, double* recv, std::size_t block) = 0;
  // recv: size() blocks of `block` floats, block r is rank r's send.
  virtual void all_gather(const float* send, float* recv, std::size_t block) = 0;
  // Copies root's `count` bytes to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // Traffic counters. Implementations that move nothing (SingleProcess, fakes)
  // leave them at zero.
  const CollectiveStats& traffic() const { return traffic_; }
  void reset_traffic() { traffic_ = {}; }

 protected:
  CollectiveStats traffic_;
};

class SingleProcess final : public Collectives {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(float*, std::size_t) override {}
  void all_reduce_sum(double*, std::size_t) override {}
  void all_to_all(const float* send, float* recv, std::size_t block) override;
  void all_to_all(const double* send, double* recv, std::size_t block) override;
  void all_gather(const float* send, float* recv, std::size_t block) override;
  void broadcast(void*, std::size_t, int) override {}
  void barrier() override {}
};

// The process-wide single-rank instance.
SingleProcess& single_process();

}  // namespace moe
