#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "util/error.h"

namespace moe {
namespace fs = std::filesystem;

namespace {
void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems refuse directory fsync
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& write) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw FileError(path, 0, std::string("cannot write: ") + std::strerror(errno));
      write(out);
      out.flush();
      if (!out) throw FileError(path, 0, "write failed (disk full?)");
    }
    std::error_code ec;
    // A replaced file keeps its permissions (a 640 output stays 640), as an
    // in-place rewrite would; a new one gets the umask's.
    const fs::file_status old_status = fs::status(target, ec);
    if (!ec && fs::is_regular_file(old_status)) fs::permissions(tmp, old_status.permissions(), ec);
    fsync_path(tmp, false);
    fs::rename(tmp, target, ec);
    if (ec) throw FileError(path, 0, "cannot rename the temporary file: " + ec.message());
    fsync_path(dir.string(), true);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(path, [&](std::ostream& out) { out << contents; });
}

// Not std::filesystem::copy_file: its short sendfile on a full disk reports
// "Input/output error" naming the source, not the file that could not be written.
void copy_file_atomically(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw FileError(from, 0, std::string("cannot read: ") + std::strerror(errno));
  write_file_atomically(to, [&](std::ostream& out) {
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      out.write(buffer, in.gcount());
      if (!out) return;  // reported by write_file_atomically as a failed write of `to`
    }
    if (in.bad()) throw FileError(from, 0, "read failed");
  });
}

bool is_atomic_write_temporary(const std::string& file_name) {
  const std::size_t marker = file_name.rfind(".tmp.");
  if (file_name.size() < 2 || file_name[0] != '.' || marker == std::string::npos || marker < 2) return false;
  const std::string pid = file_name.substr(marker + 5);
  return !pid.empty() && std::all_of(pid.begin(), pid.end(), [](unsigned char c) { return std::isdigit(c); });
}

void remove_atomic_write_temporaries(const std::string& dir) {
  std::vector<fs::path> leftovers;
  std::error_code ec;
  for (fs::directory_iterator entry(dir, ec), end; !ec && entry != end; entry.increment(ec)) {
    std::error_code type_ec;
    if (entry->is_regular_file(type_ec) && is_atomic_write_temporary(entry->path().filename().string()))
      leftovers.push_back(entry->path());
  }
  for (const fs::path& path : leftovers) fs::remove(path, ec);
}

}  // namespace moe
