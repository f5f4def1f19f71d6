#include "mesh/mpi_runtime.h"

#include <cstdlib>
#include <string_view>

#include "util/error.h"

namespace moe {
namespace {

MpiRuntime* g_current = nullptr;

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "an unknown MPI thread level";
  }
}

}  // namespace

bool launched_by_mpi_launcher() {
  // OpenMPI's mpirun, PMIx launchers (srun --mpi=pmix, prterun), PMI-1/2 (MPICH hydra, srun).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

MeshBackend resolve_mesh_backend(MeshBackend requested) {
  if (requested != MeshBackend::kAuto) return requested;
  if (const char* value = std::getenv("MOE_MESH_BACKEND")) {
    const std::string_view v = value;
    if (v == "mpi") return MeshBackend::kMpi;
    if (v == "single") return MeshBackend::kSingleProcess;
    if (!v.empty() && v != "auto")
      throw InputError("environment variable MOE_MESH_BACKEND='" + std::string(v) +
                       "': expected auto, mpi or single");
  }
  return launched_by_mpi_launcher() ? MeshBackend::kMpi : MeshBackend::kSingleProcess;
}

MpiRuntime::MpiRuntime(MeshBackend backend, int required_thread_level)
    : backend_(resolve_mesh_backend(backend)) {
  if (g_current != nullptr)
    throw InternalError("a second MpiRuntime was created; create exactly one, in main");
  if (backend_ == MeshBackend::kMpi) {
    int finalized = 0;
    check_mpi(MPI_Finalized(&finalized), "MPI_Finalized");
    if (finalized)
      throw InternalError("MPI was already finalized: MPI can start only once per process");
    int initialized = 0;
    check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
    if (initialized)
      throw InternalError("MPI was initialized outside MpiRuntime; let MpiRuntime own it");
    // A failing MPI_Init aborts inside MPI with its own message: the error
    // handler cannot be set before MPI exists.
    MPI_Init_thread(nullptr, nullptr, required_thread_level, &thread_level_);
    // From here on MPI errors return codes that check_mpi turns into MpiError;
    // sub-communicators inherit this handler from MPI_COMM_WORLD.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &world_size_), "MPI_Comm_size");
    if (thread_level_ < required_thread_level) {
      const std::string message = std::string("MPI provides only ") +
                                  thread_level_name(thread_level_) + ", " +
                                  thread_level_name(required_thread_level) + " is needed";
      MPI_Finalize();
      throw MpiError(message);
    }
  }
  g_current = this;
}

MpiRuntime::~MpiRuntime() {
  g_current = nullptr;
  if (backend_ == MeshBackend::kMpi) MPI_Finalize();
}

MpiRuntime* MpiRuntime::current() { return g_current; }

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  const std::string where =
      g_current != nullptr ? " on rank " + std::to_string(g_current->world_rank()) : "";
  throw MpiError(std::string(call) + " failed" + where + ": " +
                 std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace moe
