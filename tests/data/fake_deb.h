#pragma once
// Builds small real .deb files for the corpus builder's tests with
// `dpkg-deb --build`, so the tests exercise the same extraction path as a
// downloaded package without a network.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "data/process.h"

namespace moe::data::testing {

// files: path inside the package ("usr/share/locale/de/LC_MESSAGES/app.mo") ->
// bytes; "DEBIAN/templates" is allowed. Writes DIR/<name>_1.0_all.deb and
// returns its path (empty if dpkg-deb failed).
inline std::string build_fake_deb(const std::filesystem::path& dir, const std::string& name,
                                  const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  const fs::path root = dir / (name + "-root");
  fs::create_directories(root / "DEBIAN");
  std::ofstream(root / "DEBIAN" / "control") << "Package: " << name
                                             << "\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
                                                "Description: test package\n";
  for (const auto& [path, bytes] : files) {
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path, std::ios::binary) << bytes;
  }
  const fs::path deb = dir / (name + "_1.0_all.deb");
  const int status = run_process({"dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root.string(), deb.string()},
                                 "", "");
  fs::remove_all(root);
  return status == 0 ? deb.string() : std::string();
}

}  // namespace moe::data::testing
