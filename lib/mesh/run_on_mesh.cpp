#include "mesh/run_on_mesh.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "util/error.h"
#include "util/utf8.h"

namespace moe {
namespace {

constexpr int kInputErrorExit = 1;
constexpr int kOtherErrorExit = 2;

bool in_multi_rank_job(const std::optional<MpiRuntime>& runtime) {
  return runtime && runtime->uses_mpi() && runtime->world_size() > 1;
}

std::string rank_prefix(std::string_view program, const std::optional<MpiRuntime>& runtime) {
  std::string prefix(program);
  if (in_multi_rank_job(runtime))
    prefix += ": rank " + std::to_string(runtime->world_rank()) + " of " +
              std::to_string(runtime->world_size());
  return prefix;
}

// Ends every rank of the job with `code`; mpirun reports the abort itself.
[[noreturn]] void abort_job(int rank, int code) {
  std::cerr.flush();
  // When every rank fails alike (a bad option), let rank 0's abort win: OpenMPI
  // garbles its report when several ranks abort at the same instant.
  if (rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this only pleases [[noreturn]]
}

}  // namespace

int run_on_mesh(std::string_view program, const std::function<int(MpiRuntime&)>& body,
                MeshBackend backend) {
  std::optional<MpiRuntime> runtime;
  int code = 0;
  std::optional<std::string> error;
  try {
    runtime.emplace(backend);
    code = body(*runtime);
  } catch (const InputError& e) {
    code = kInputErrorExit;
    error = e.what();
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that cannot be created, read or written: name it
    // like every other input error, without the library's "filesystem error:".
    code = kInputErrorExit;
    error = e.path1().string() + ": " + e.code().message();
    if (!e.path2().empty()) error = *error + " (" + e.path2().string() + ")";
  } catch (const std::bad_alloc&) {
    code = kOtherErrorExit;
    error = "out of memory";
  } catch (const std::exception& e) {
    code = kOtherErrorExit;
    error = e.what();
  } catch (...) {
    code = kOtherErrorExit;
    error = "unknown exception";
  }
  // One write per line, so that lines of different ranks do not interleave.
  // Messages may quote user bytes (a NUL, a newline, invalid UTF-8): always one line.
  if (error) std::cerr << rank_prefix(program, runtime) + ": error: " + utf8::printable(*error) + '\n';
  if (code != 0 && in_multi_rank_job(runtime)) {
    if (!error)
      std::cerr << rank_prefix(program, runtime) + ": exited with code " + std::to_string(code) +
                       ", aborting the job\n";
    abort_job(runtime->world_rank(), code);
  }
  return code;
}

}  // namespace moe
