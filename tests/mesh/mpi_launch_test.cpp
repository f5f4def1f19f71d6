// Runs this test binary's MpiWorker.* tests under mpirun with 1, 2 and 4 ranks
// (oversubscribed: CI machines have 2 cores), and checks that an exception on
// one rank ends the whole job quickly. ctest sees these as ordinary tests.
//
// Environment given to mpirun (CI runs as root, in containers):
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  OpenMPI refuses root otherwise
//   OMPI_MCA_btl_vader_single_copy_mechanism=none  shared-memory transfers without
//       process_vm_readv (CMA), which containers without CAP_SYS_PTRACE forbid
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Launch {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;  // stdout and stderr of all ranks, interleaved
};

std::string this_binary() {
  std::array<char, 4096> path{};
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size() - 1);
  return n > 0 ? std::string(path.data(), static_cast<std::size_t>(n)) : std::string();
}

// Runs `env_prefix [timeout] [mpirun -np ranks] this-binary --gtest_filter=filter`.
// ranks == 0 runs the binary directly (a 1-rank MPI singleton when
// MOE_MESH_BACKEND=mpi is in env_prefix).
Launch launch(int ranks, const std::string& filter, const std::string& env_prefix,
              int timeout_seconds) {
  std::string command = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                        "OMPI_MCA_btl_vader_single_copy_mechanism=none " +
                        env_prefix + " timeout -k 5 " + std::to_string(timeout_seconds) + " ";
  if (ranks > 0) command += "mpirun --oversubscribe -np " + std::to_string(ranks) + " ";
  // Every rank must run the same tests in the same order.
  command += "'" + this_binary() + "' --gtest_filter='" + filter +
             "' --gtest_shuffle=0 --gtest_repeat=1 --gtest_color=no 2>&1";
  Launch result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed: " + command;
    return result;
  }
  std::array<char, 4096> chunk{};
  std::size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.output.append(chunk.data(), n);
  const int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

bool mpirun_available() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

void expect_all_workers_pass(int ranks, const std::string& filter, const std::string& env = "") {
  ASSERT_TRUE(ranks == 0 || mpirun_available()) << "mpirun not found: install openmpi-bin";
  const Launch run = launch(ranks, filter, env, 60);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("[  PASSED  ]"), std::string::npos) << run.output;
  // A worker that skipped would mean this launch checked less than it claims.
  EXPECT_EQ(run.output.find("[  SKIPPED ]"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("[  FAILED  ]"), std::string::npos) << run.output;
}

TEST(MpiLaunch, WorkersPassAsOneRankMpiSingleton) {
  expect_all_workers_pass(0, "MpiWorker.*:-MpiWorker.DataExpert*", "MOE_MESH_BACKEND=mpi");
}

TEST(MpiLaunch, WorkersPassOnTwoRanks) {
  expect_all_workers_pass(2, "MpiWorker.*:-MpiWorker.DataExpert*");
}

TEST(MpiLaunch, WorkersPassOnFourRanks) { expect_all_workers_pass(4, "MpiWorker.*"); }

TEST(MpiLaunch, ExceptionOnOneRankAbortsTheJob) {
  ASSERT_TRUE(mpirun_available()) << "mpirun not found: install openmpi-bin";
  const Launch run = launch(4, "MpiFault.*", "MOE_MESH_TEST_FAULT=2", 30);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.exit_code, 124) << "the job hung until the timeout killed it:\n" << run.output;
  EXPECT_NE(run.output.find("test_mesh: rank 2 of 4: error: injected failure"), std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("run_on_mesh returned"), std::string::npos) << run.output;
}

}  // namespace
