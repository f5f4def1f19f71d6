#pragma once
// The collectives a layer may need, as an interface: the MoE layer and the
// trainer talk to the device mesh only through this, so layer tests run in
// one process. lib/mesh implements it over MPI; SingleProcess is the 1-rank
// mesh (every collective is the identity) used when no mpirun is involved.
#include <cstddef>

namespace moe {

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place element-wise sum over all ranks of `count` floats.
  virtual void all_reduce_sum(float* data, std::size_t count) = 0;
  virtual void all_reduce_sum(double* data, std::size_t count) = 0;
  // send: size() blocks of `block` floats, block r goes to rank r;
  // recv: size() blocks, block r came from rank r. send and recv must not alias.
  virtual void all_to_all(const float* send, float* recv, std::size_t block) = 0;
  virtual void all_to_all(const double* send, double* recv, std::size_t block) = 0;
  // recv: size() blocks of `block` floats, block r is rank r's send.
  virtual void all_gather(const float* send, float* recv, std::size_t block) = 0;
  // Copies root's `count` bytes to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;
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
