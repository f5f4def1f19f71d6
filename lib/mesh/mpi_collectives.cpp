#include "mesh/mpi_collectives.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <string>

#include "mesh/mpi_runtime.h"
#include "util/error.h"

namespace moe {
namespace {

// Byte pointer arithmetic for buffers of any element type.
const char* at(const void* base, std::size_t elements, std::size_t elem_bytes) {
  return static_cast<const char*>(base) + elements * elem_bytes;
}
char* at(void* base, std::size_t elements, std::size_t elem_bytes) {
  return static_cast<char*>(base) + elements * elem_bytes;
}

// `length` elements of `type`, with an extent of `stride` elements: block r of
// a strided exchange then starts r * stride elements into the buffer, with the
// displacement held in MPI_Aint (64 bits), not in an int count.
class StridedChunkType {
 public:
  StridedChunkType(MPI_Datatype type, std::size_t length, std::size_t stride,
                   std::size_t elem_bytes) {
    MPI_Datatype contiguous = MPI_DATATYPE_NULL;
    check_mpi(MPI_Type_contiguous(static_cast<int>(length), type, &contiguous),
              "MPI_Type_contiguous");
    const int rc = MPI_Type_create_resized(contiguous, 0,
                                           static_cast<MPI_Aint>(stride * elem_bytes), &type_);
    MPI_Type_free(&contiguous);
    check_mpi(rc, "MPI_Type_create_resized");
    check_mpi(MPI_Type_commit(&type_), "MPI_Type_commit");
  }
  ~StridedChunkType() { MPI_Type_free(&type_); }
  StridedChunkType(const StridedChunkType&) = delete;
  StridedChunkType& operator=(const StridedChunkType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

// Adds one call of `bytes` and the wall time until destruction to `traffic`
// (null: counts nothing).
class Counted {
 public:
  Counted(CollectiveTraffic* traffic, std::uint64_t calls, std::size_t bytes)
      : traffic_(traffic), start_(std::chrono::steady_clock::now()) {
    if (traffic_ == nullptr) return;
    traffic_->calls += calls;
    traffic_->bytes += bytes;
  }
  ~Counted() {
    if (traffic_ != nullptr)
      traffic_->seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

 private:
  CollectiveTraffic* traffic_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

MpiCollectives::MpiCollectives(MPI_Comm comm)
    : max_elements_per_call_(static_cast<std::size_t>(INT_MAX)) {
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCollectives::MpiCollectives(MPI_Comm comm, AdoptTag)
    : comm_(comm), max_elements_per_call_(static_cast<std::size_t>(INT_MAX)) {
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCollectives MpiCollectives::adopt(MPI_Comm comm) {
  MOE_CHECK(comm != MPI_COMM_NULL, "cannot adopt MPI_COMM_NULL");
  return MpiCollectives(comm, AdoptTag{});
}

MpiCollectives::MpiCollectives(MpiCollectives&& other) noexcept
    : Collectives(other),
      comm_(other.comm_),
      rank_(other.rank_),
      size_(other.size_),
      max_elements_per_call_(other.max_elements_per_call_) {
  other.comm_ = MPI_COMM_NULL;
}

MpiCollectives::~MpiCollectives() {
  if (comm_ == MPI_COMM_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

void MpiCollectives::set_max_elements_per_call(std::size_t n) {
  MOE_CHECK(n >= 1 && n <= static_cast<std::size_t>(INT_MAX),
            "max_elements_per_call must be in [1, INT_MAX], got " + std::to_string(n));
  max_elements_per_call_ = n;
}

void MpiCollectives::all_reduce_sum_chunked(void* data, std::size_t count, MPI_Datatype type,
                                            std::size_t elem_bytes) {
  const Counted counted(&traffic_.all_reduce, 1, count * elem_bytes);
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(max_elements_per_call_, count - done);
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, at(data, done, elem_bytes), static_cast<int>(n), type,
                            MPI_SUM, comm_),
              "MPI_Allreduce");
    done += n;
  }
}

std::unique_ptr<PendingCollective> MpiCollectives::start_all_reduce_sum(float* data,
                                                                        std::size_t count) {
  const Counted counted(&traffic_.all_reduce, 1, count * sizeof(float));
  std::vector<MPI_Request> requests;
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(max_elements_per_call_, count - done);
    requests.push_back(MPI_REQUEST_NULL);
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + done, static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                             comm_, &requests.back()),
              "MPI_Iallreduce");
    done += n;
  }
  return std::make_unique<MpiRequests>(std::move(requests), &traffic_.all_reduce);
}

bool MpiRequests::done() {
  if (requests_.empty()) return true;
  const Counted counted(traffic_, 0, 0);
  int flag = 0;
  check_mpi(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag,
                        MPI_STATUSES_IGNORE),
            "MPI_Testall");
  if (flag) requests_.clear();
  return flag != 0;
}

void MpiRequests::wait() {
  if (requests_.empty()) return;
  const Counted counted(traffic_, 0, 0);
  check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
            "MPI_Waitall");
  requests_.clear();
}

void MpiCollectives::all_reduce_sum(float* data, std::size_t count) {
  all_reduce_sum_chunked(data, count, MPI_FLOAT, sizeof(float));
}
void MpiCollectives::all_reduce_sum(double* data, std::size_t count) {
  all_reduce_sum_chunked(data, count, MPI_DOUBLE, sizeof(double));
}

void MpiCollectives::exchange_blocks(const void* send, void* recv, std::size_t block,
                                     MPI_Datatype type, std::size_t elem_bytes, bool gather) {
  MOE_CHECK(send != recv || block == 0, "send and recv must not alias");
  const Counted counted(gather ? &traffic_.all_gather : &traffic_.all_to_all, 1,
                        block * static_cast<std::size_t>(size_) * elem_bytes);
  if (block == 0) return;
  if (block <= max_elements_per_call_) {
    const int n = static_cast<int>(block);
    if (gather)
      check_mpi(MPI_Allgather(send, n, type, recv, n, type, comm_), "MPI_Allgather");
    else
      check_mpi(MPI_Alltoall(send, n, type, recv, n, type, comm_), "MPI_Alltoall");
    return;
  }
  // Blocks too long for an int count: exchange them slice by slice, slice
  // [offset, offset + length) of every block at once.
  for (std::size_t offset = 0; offset < block;) {
    const std::size_t length = std::min(max_elements_per_call_, block - offset);
    const StridedChunkType slice(type, length, block, elem_bytes);
    void* recv_slice = at(recv, offset, elem_bytes);
    if (gather) {
      check_mpi(MPI_Allgather(at(send, offset, elem_bytes), static_cast<int>(length), type,
                              recv_slice, 1, slice.get(), comm_),
                "MPI_Allgather");
    } else {
      check_mpi(MPI_Alltoall(at(send, offset, elem_bytes), 1, slice.get(), recv_slice, 1,
                             slice.get(), comm_),
                "MPI_Alltoall");
    }
    offset += length;
  }
}

void MpiCollectives::all_to_all(const float* send, float* recv, std::size_t block) {
  exchange_blocks(send, recv, block, MPI_FLOAT, sizeof(float), false);
}
void MpiCollectives::all_to_all(const double* send, double* recv, std::size_t block) {
  exchange_blocks(send, recv, block, MPI_DOUBLE, sizeof(double), false);
}
void MpiCollectives::all_gather(const float* send, float* recv, std::size_t block) {
  exchange_blocks(send, recv, block, MPI_FLOAT, sizeof(float), true);
}

void MpiCollectives::broadcast(void* data, std::size_t bytes, int root) {
  MOE_CHECK(root >= 0 && root < size_,
            "broadcast root " + std::to_string(root) + " outside group of " +
                std::to_string(size_));
  const Counted counted(&traffic_.broadcast, 1, bytes);
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(max_elements_per_call_, bytes - done);
    check_mpi(MPI_Bcast(at(data, done, 1), static_cast<int>(n), MPI_BYTE, root, comm_),
              "MPI_Bcast");
    done += n;
  }
}

void MpiCollectives::barrier() { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

}  // namespace moe
