#pragma once
// The `main` wrapper for executables that may run as an MPI job:
//
//   int main(int argc, char** argv) {
//     return moe::run_on_mesh("moe-train", [&](moe::MpiRuntime& runtime) {
//       ... parse argv, moe::Mesh mesh(runtime, spec), train ...
//       return 0;
//     });
//   }
//
// It owns the process's MpiRuntime and turns failures into a clear line and a
// prompt end of the whole job: an exception escaping `body` prints
//   "<program>: rank R of N: error: <what()>"      (MPI job of N > 1 ranks)
//   "<program>: error: <what()>"                    (single process)
// on stderr, and in a multi-rank job calls MPI_Abort, because the other ranks
// are probably blocked in a collective waiting for this one and would hang
// forever. A non-zero return from `body` on any rank aborts the job the same
// way, since MPI_Finalize would wait for ranks that never get there.
// Exit codes: body's return value; 1 for InputError; 2 for any other error.
#include <functional>
#include <string_view>

#include "mesh/mpi_runtime.h"

namespace moe {

int run_on_mesh(std::string_view program, const std::function<int(MpiRuntime&)>& body,
                MeshBackend backend = MeshBackend::kAuto);

}  // namespace moe
