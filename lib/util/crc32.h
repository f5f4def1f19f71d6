#pragma once
// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), to detect corrupted files.
#include <cstddef>
#include <cstdint>

namespace moe {

// Continues a CRC: crc32(b, crc32(a)) == crc32(a + b). Start with 0.
std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc = 0);

}  // namespace moe
