#pragma once
// Crash-safe file replacement: content goes to a temporary file in the same
// directory, is flushed to disk, then renamed over the target. A reader sees
// the old file or the new one, never a half-written one.
#include <functional>
#include <ostream>
#include <string>

namespace moe {

// Calls write(stream) on a temporary file next to `path`, then fsyncs and
// renames it to `path`. Throws FileError (naming `path`) on any I/O failure;
// the temporary file is removed and `path` is left untouched.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// Convenience for a string body.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace moe
