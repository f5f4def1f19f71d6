#pragma once
// The flag parsing every moe-* executable shares, with the toolkit's error
// convention: --help and --version print and end with 0 (1 if stdout cannot
// take them); any other CLI11 error is one "TOOL: error: ..." line on stderr
// and exit status 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <utility>

#include "util/utf8.h"

namespace moe::apps {

// Flushes stdout; false when what was printed did not all reach it (a full
// disk, a closed descriptor). Output that is the whole answer must check this.
inline bool stdout_written() {
  std::cout.flush();
  return std::cout && std::fflush(stdout) == 0 && !std::ferror(stdout);
}

// args: what CLI::App::parse takes (argc, argv or a reversed argument vector).
// Returns the status to exit with, or nullopt to go on.
template <typename... Args>
std::optional<int> parse_flags(CLI::App& app, const char* tool, Args&&... args) {
  try {
    app.parse(std::forward<Args>(args)...);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help or --version, printed on stdout
      const int status = app.exit(e);
      if (!stdout_written()) {
        std::cerr << tool << ": error: <stdout>: write failed\n";
        return 1;
      }
      return status;
    }
    std::cerr << tool << ": error: " << utf8::printable(e.what()) << "\n";
    return 1;
  }
  return std::nullopt;
}

}  // namespace moe::apps
