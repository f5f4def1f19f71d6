#pragma once
// The flag parsing every moe-* executable shares, with the toolkit's error
// convention: --help and --version print and end with 0 (1 if stdout cannot
// take them); any other CLI11 error is one "TOOL: error: ..." line on stderr
// and exit status 1. A repeated single-value option takes its last value, as
// argparse (sacreBLEU) and fairseq do: "--threads 1 --threads 2" is 2.
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

// Gives every single-value option of `app` and its subcommands that still has
// CLI11's default policy (an error when repeated) the take-last policy. Done
// on the finished app rather than through option_defaults(), which reaches
// only options declared after it. Options that take several values keep
// CLI11's appending (moe-train --set is repeatable on purpose); bool flags
// already take the last value.
inline void take_last_when_repeated(CLI::App& app) {
  for (CLI::Option* option : app.get_options({})) {
    if (option->get_multi_option_policy() == CLI::MultiOptionPolicy::Throw &&
        option->get_expected_max() <= 1) {
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  for (CLI::App* subcommand : app.get_subcommands({})) take_last_when_repeated(*subcommand);
}

// For a several-value option: a repeat replaces the earlier list, as a
// repeated argparse nargs='+' option does ("-m bleu ter -m chrf" is chrf).
// CLI11 appends unless the option's callback runs at each occurrence, after
// which the next occurrence starts from an empty list.
inline CLI::Option* replace_when_repeated(CLI::Option* option) {
  return option->trigger_on_parse();
}

// For unsigned 64-bit flags (seeds): CLI11 converts with strtoull, which
// takes "-1" as 2^64-1 and saturates past 2^64, so different seeds would
// silently become the same one. Digits only, at most 2^64-1.
inline const CLI::Validator kUnsigned64 = CLI::Validator(
    [](const std::string& value) -> std::string {
      const std::string max = "18446744073709551615";
      const bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
      const std::string trimmed = digits ? value.substr(std::min(value.find_first_not_of('0'), value.size() - 1)) : "";
      if (!digits || trimmed.size() > max.size() || (trimmed.size() == max.size() && trimmed > max))
        return "must be an integer from 0 to " + max + ", got " + value;
      return "";
    },
    "UINT64");

// args: what CLI::App::parse takes (argc, argv or a reversed argument vector).
// Returns the status to exit with, or nullopt to go on.
template <typename... Args>
std::optional<int> parse_flags(CLI::App& app, const char* tool, Args&&... args) {
  take_last_when_repeated(app);
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
