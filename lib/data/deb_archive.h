#pragma once
// Reading files out of a Debian binary package without unpacking it to disk:
// `dpkg-deb --fsys-tarfile` (or --ctrl-tarfile) streams the decompressed tar
// through a pipe, and we keep only the members we want in memory.
#include <functional>
#include <string>

namespace moe::data {

enum class DebPart { kData, kControl };

// Calls `on_file(path, bytes)` for every regular file of the package's data
// (or control) archive whose path `wanted(path)` accepts; paths are as in the
// tar ("./usr/share/locale/de/LC_MESSAGES/gtk30.mo"). Throws FileError naming
// the .deb if dpkg-deb fails or the tar stream is truncated.
void for_each_deb_file(const std::string& deb_path, DebPart part,
                       const std::function<bool(const std::string&)>& wanted,
                       const std::function<void(const std::string&, std::string&&)>& on_file);

// Calls `on_file` for each wanted regular file of a tar stream read from `fd`
// (the tar parser, exposed for tests). `origin` names the stream in errors.
void for_each_tar_file(int fd, const std::string& origin, const std::function<bool(const std::string&)>& wanted,
                       const std::function<void(const std::string&, std::string&&)>& on_file);

}  // namespace moe::data
