#pragma once
// moe::Collectives over one MPI communicator (the world or one mesh axis).
//
// Counts are std::size_t: a call moving more than `max_elements_per_call`
// (default INT_MAX, the largest count MPI's int arguments can hold) elements is
// split into several MPI calls, so a 10 GB expert buffer needs no special care.
// All calls are collective: every rank of the communicator makes the same calls
// in the same order with the same counts (SPMD), or the job hangs.
// Errors raise MpiError (see mpi_runtime.h). Use only from the thread that
// created the MpiRuntime (MPI_THREAD_FUNNELED). Every call adds to traffic()
// (collectives.h): calls, the caller's buffer bytes, and the wall time spent
// inside MPI (two clock reads a call).
#include <mpi.h>

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "util/collectives.h"

namespace moe {

// Non-blocking collectives in flight (one MPI request per chunk). Move-only.
// The buffers they read and write must stay alive and untouched until done()
// returned true or wait() returned. Destroying it with requests in flight
// abandons them (MPI forbids freeing a collective's request): only acceptable
// when the job is about to end, e.g. while an exception unwinds to run_on_mesh.
// `traffic` (may be null; the starting MpiCollectives' all-reduce counters,
// which must outlive the handle) receives the seconds spent in done()/wait().
class MpiRequests final : public PendingCollective {
 public:
  MpiRequests() = default;
  MpiRequests(std::vector<MPI_Request> requests, CollectiveTraffic* traffic)
      : requests_(std::move(requests)), traffic_(traffic) {}
  MpiRequests(MpiRequests&&) noexcept = default;
  MpiRequests& operator=(MpiRequests&&) noexcept = default;
  MpiRequests(const MpiRequests&) = delete;
  MpiRequests& operator=(const MpiRequests&) = delete;
  // True once all completed; each call also lets MPI progress the transfers.
  bool done() override;
  void wait() override;

 private:
  std::vector<MPI_Request> requests_;
  CollectiveTraffic* traffic_ = nullptr;
};

class MpiCollectives final : public Collectives {
 public:
  // Duplicates `comm` (MPI_Comm_dup), so traffic here never matches messages of
  // other users of `comm`; frees the duplicate on destruction.
  explicit MpiCollectives(MPI_Comm comm);
  // Takes ownership of `comm` (e.g. the result of MPI_Comm_split) and frees it.
  static MpiCollectives adopt(MPI_Comm comm);
  ~MpiCollectives() override;
  MpiCollectives(MpiCollectives&& other) noexcept;
  MpiCollectives& operator=(MpiCollectives&&) = delete;
  MpiCollectives(const MpiCollectives&) = delete;
  MpiCollectives& operator=(const MpiCollectives&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm comm() const { return comm_; }

  void all_reduce_sum(float* data, std::size_t count) override;
  void all_reduce_sum(double* data, std::size_t count) override;
  void all_to_all(const float* send, float* recv, std::size_t block) override;
  void all_to_all(const double* send, double* recv, std::size_t block) override;
  void all_gather(const float* send, float* recv, std::size_t block) override;
  void broadcast(void* data, std::size_t bytes, int root) override;
  void barrier() override;

  // MPI_Iallreduce per chunk; returns at once with an MpiRequests handle,
  // which must not outlive this object.
  std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data,
                                                          std::size_t count) override;

  // The split threshold; tests lower it to exercise the chunked paths.
  void set_max_elements_per_call(std::size_t n);
  std::size_t max_elements_per_call() const { return max_elements_per_call_; }

 private:
  struct AdoptTag {};
  MpiCollectives(MPI_Comm comm, AdoptTag);
  void all_reduce_sum_chunked(void* data, std::size_t count, MPI_Datatype type,
                              std::size_t elem_bytes);
  void exchange_blocks(const void* send, void* recv, std::size_t block, MPI_Datatype type,
                       std::size_t elem_bytes, bool gather);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::size_t max_elements_per_call_;
};

}  // namespace moe
