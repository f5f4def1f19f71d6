#pragma once
// SHA-256 (FIPS 180-4). The corpus split hashes the normalised English side
// with it so that every language puts the same English sentence in the same
// split; sha256 rather than a fast hash because the split rule is published
// (CORPUS.md) and must be reproducible with any standard tool.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace moe::data {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view bytes);

// Lower-case hex of the digest, as `sha256sum` prints it.
std::string sha256_hex(std::string_view bytes);

}  // namespace moe::data
