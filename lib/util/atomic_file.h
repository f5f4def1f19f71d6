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

// Copies `from` to `to` the same way; a failed write names `to` ("write failed
// (disk full?)"), an unreadable source names `from`.
void copy_file_atomically(const std::string& from, const std::string& to);

// True for the name of a temporary file left by write_file_atomically in a
// process that was killed: ".NAME.tmp.PID".
bool is_atomic_write_temporary(const std::string& file_name);

// Deletes such leftovers directly inside `dir` (not below it); a missing `dir`
// is fine. Only for a directory no other process is writing into (the caller
// holds its lock): a live writer's temporary would go too.
void remove_atomic_write_temporaries(const std::string& dir);

}  // namespace moe
