#pragma once
// Running an external tool (apt-get, dpkg-deb) without a shell, so package
// and file names never need quoting.
#include <string>
#include <vector>

namespace moe::data {

// Runs argv[0] (looked up in PATH) in `working_dir` with stdout and stderr
// appended to `log_path` (or discarded if empty); returns its exit status,
// 128 + signal if it was killed, 127 if it could not be started.
int run_process(const std::vector<std::string>& argv, const std::string& working_dir, const std::string& log_path);

}  // namespace moe::data
