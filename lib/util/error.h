#pragma once
// Typed errors. Every error a user can cause is one of these; apps catch them,
// print what() as one line on stderr and exit non-zero. what() already names
// the file/line/key involved, so callers never need to add context twice.
#include <stdexcept>
#include <string>

namespace moe {

// Bad user input: a file, an option value, a recipe key. Exit code 1.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Input located in a file: message reads "FILE:LINE: what" (LINE omitted if 0).
class FileError : public InputError {
 public:
  FileError(const std::string& path, long line, const std::string& what)
      : InputError(format(path, line, what)), path_(path), line_(line) {}
  const std::string& path() const { return path_; }
  long line() const { return line_; }

 private:
  static std::string format(const std::string& path, long line, const std::string& what) {
    return line > 0 ? path + ":" + std::to_string(line) + ": " + what : path + ": " + what;
  }
  std::string path_;
  long line_;
};

// A broken invariant inside the library (a shape mismatch between layers, ...):
// a bug, not bad input.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace moe

// Checks an internal invariant in every build type (shape checks are cheap
// next to the GEMMs they guard).
#define MOE_CHECK(cond, msg)                                                        \
  do {                                                                              \
    if (!(cond))                                                                    \
      throw ::moe::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                 ": check failed: " #cond ": " + (msg));            \
  } while (0)
