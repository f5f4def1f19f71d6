#pragma once
// MPI start-up and shut-down, once per process, and the choice between a real
// MPI job and a plain single process.
//
// Backend choice (MeshBackend::kAuto): MPI when a launcher started us (mpirun /
// mpiexec / srun set OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE, ...); otherwise
// no MPI_Init at all and the 1-rank mesh runs over moe::SingleProcess. OpenMPI's
// singleton mode (MPI_Init without mpirun) does work, but it forks an `orted`
// daemon and costs ~0.3 s per start on top; single-process runs (decoding,
// evaluation, tests) should not depend on that. MOE_MESH_BACKEND=mpi forces MPI
// (singleton when no launcher), =single forces the single-process backend.
#include <mpi.h>

#include <stdexcept>
#include <string>

namespace moe {

// An MPI call failed (MPI errors are set to return codes, not to abort, so that
// they surface as exceptions with the call and the rank named).
class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class MeshBackend { kAuto, kSingleProcess, kMpi };

// True if the environment shows a process launcher (mpirun, srun, hydra).
bool launched_by_mpi_launcher();

// kAuto resolved through MOE_MESH_BACKEND (auto|mpi|single) and the launcher
// check; throws InputError naming the variable if its value is unknown.
MeshBackend resolve_mesh_backend(MeshBackend requested = MeshBackend::kAuto);

// RAII guard: MPI_Init_thread in the constructor (kMpi only), MPI_Finalize in
// the destructor. Create exactly one, in main, before any Mesh; a second live
// guard, or one after MPI was finalized, throws InternalError. Not copyable.
//
// Thread level: MPI_THREAD_FUNNELED by default: only the thread that created
// the guard calls MPI (OpenMP workers compute, the main thread communicates;
// overlapping a gradient all-reduce with backward needs no more, since the main
// thread starts and completes the non-blocking requests). Pass
// MPI_THREAD_MULTIPLE for a dedicated communication thread.
class MpiRuntime {
 public:
  explicit MpiRuntime(MeshBackend backend = MeshBackend::kAuto,
                      int required_thread_level = MPI_THREAD_FUNNELED);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  MeshBackend backend() const { return backend_; }  // kMpi or kSingleProcess
  bool uses_mpi() const { return backend_ == MeshBackend::kMpi; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int thread_level() const { return thread_level_; }  // what MPI granted (0 without MPI)

  // The live guard, or nullptr (run_on_mesh uses it to find the rank to name).
  static MpiRuntime* current();

 private:
  MeshBackend backend_;
  int world_rank_ = 0;
  int world_size_ = 1;
  int thread_level_ = 0;
};

// Throws MpiError("<call> failed on rank R: <MPI's message>") unless `code` is
// MPI_SUCCESS.
void check_mpi(int code, const char* call);

}  // namespace moe
