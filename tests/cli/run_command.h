#pragma once
// Runs one of the toolkit's executables as a user would, for end-to-end tests.
#include <string>

namespace moe::test {

struct CommandResult {
  int exit_code = -1;  // -1 if the process died from a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `bin/<app> <args>` (args is shell-quoted by the caller) with `stdin_text`
// on standard input, from MOE_BIN_DIR.
CommandResult run_app(const std::string& app, const std::string& args,
                      const std::string& stdin_text = "");

// Runs `bin/<app> <args_and_redirections>` with the caller's own stdin/stdout
// redirections (a closed stdin, /dev/full); only stderr is captured.
CommandResult run_app_redirected(const std::string& app, const std::string& args_and_redirections);

// A fresh temporary directory, removed at process exit.
std::string temp_dir();
// Writes `text` to `dir/name` and returns the path.
std::string write_file(const std::string& dir, const std::string& name, const std::string& text);
std::string read_file(const std::string& path);
// Single-quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

}  // namespace moe::test
