#include "data/deb_archive.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace moe::data {
namespace {

constexpr std::size_t kBlock = 512;

// Reads exactly n bytes (less only at end of stream); returns the count.
std::size_t read_fully(int fd, char* buffer, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buffer + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

// Tar numeric fields: octal text, or base-256 when the high bit is set.
std::uint64_t tar_number(const char* field, std::size_t width) {
  if (static_cast<unsigned char>(field[0]) & 0x80) {
    std::uint64_t v = static_cast<unsigned char>(field[0]) & 0x7F;
    for (std::size_t i = 1; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(field[i]);
    return v;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width && field[i]; ++i)
    if (field[i] >= '0' && field[i] <= '7') v = v * 8 + static_cast<std::uint64_t>(field[i] - '0');
  return v;
}

std::string tar_string(const char* field, std::size_t width) { return std::string(field, strnlen(field, width)); }

// "path" from a pax extended header ("LEN path=VALUE\n" records).
std::string pax_path(const std::string& records) {
  std::size_t pos = 0;
  while (pos < records.size()) {
    const std::size_t space = records.find(' ', pos);
    if (space == std::string::npos) break;
    const std::size_t length = std::stoul(records.substr(pos, space - pos));
    if (length == 0 || pos + length > records.size()) break;
    const std::string record = records.substr(space + 1, pos + length - space - 2);
    if (record.rfind("path=", 0) == 0) return record.substr(5);
    pos += length;
  }
  return {};
}

}  // namespace

void for_each_tar_file(int fd, const std::string& origin, const std::function<bool(const std::string&)>& wanted,
                       const std::function<void(const std::string&, std::string&&)>& on_file) {
  std::vector<char> header(kBlock);
  std::vector<char> skip_buffer(1 << 16);
  std::string long_name;
  for (;;) {
    const std::size_t got = read_fully(fd, header.data(), kBlock);
    if (got == 0) return;
    if (got < kBlock) throw FileError(origin, 0, "truncated tar stream");
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == 0; })) return;
    const std::uint64_t size = tar_number(header.data() + 124, 12);
    const char type = header[156];
    std::string path = tar_string(header.data(), 100);
    if (std::memcmp(header.data() + 257, "ustar", 5) == 0) {
      const std::string prefix = tar_string(header.data() + 345, 155);
      if (!prefix.empty()) path = prefix + "/" + path;
    }
    if (!long_name.empty()) {
      path = long_name;
      long_name.clear();
    }
    const std::uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    const bool metadata = type == 'L' || type == 'x';
    const bool regular = type == '0' || type == '\0' || type == '7';
    if (metadata || (regular && wanted(path))) {
      std::string data(padded, '\0');
      if (read_fully(fd, data.data(), padded) < padded) throw FileError(origin, 0, "truncated tar member " + path);
      data.resize(size);
      if (type == 'L') {
        long_name = tar_string(data.data(), data.size());
      } else if (type == 'x') {
        long_name = pax_path(data);
      } else {
        on_file(path, std::move(data));
      }
      continue;
    }
    for (std::uint64_t left = padded; left > 0;) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left, skip_buffer.size()));
      if (read_fully(fd, skip_buffer.data(), chunk) < chunk) throw FileError(origin, 0, "truncated tar member " + path);
      left -= chunk;
    }
  }
}

void for_each_deb_file(const std::string& deb_path, DebPart part,
                       const std::function<bool(const std::string&)>& wanted,
                       const std::function<void(const std::string&, std::string&&)>& on_file) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw FileError(deb_path, 0, std::string("pipe: ") + std::strerror(errno));
  const char* mode = part == DebPart::kData ? "--fsys-tarfile" : "--ctrl-tarfile";
  const pid_t child = fork();
  if (child < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    throw FileError(deb_path, 0, std::string("fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    execlp("dpkg-deb", "dpkg-deb", mode, deb_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe_fds[1]);
  std::exception_ptr failure;
  try {
    for_each_tar_file(pipe_fds[0], deb_path, wanted, on_file);
    // Drain the zero padding after the end-of-archive blocks, so that
    // dpkg-deb exits normally rather than on SIGPIPE.
    char sink[4096];
    while (read_fully(pipe_fds[0], sink, sizeof sink) > 0) {
    }
  } catch (...) {
    failure = std::current_exception();
  }
  close(pipe_fds[0]);  // after a failure, a writer still going gets SIGPIPE and exits
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (failure) std::rethrow_exception(failure);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw FileError(deb_path, 0, std::string("dpkg-deb ") + mode + " failed" +
                                     (WIFEXITED(status) ? " (exit " + std::to_string(WEXITSTATUS(status)) + ")" : ""));
}

}  // namespace moe::data
