#include "data/sha256.h"

#include <gtest/gtest.h>

namespace moe::data {
namespace {

// Reference digests from FIPS 180-4's examples and `sha256sum`.
TEST(Sha256, MatchesReferenceDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding spills into a second block.
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(Sha256, HashesEmbeddedNulBytes) {
  const std::string salted("debian-l10n-v1\0saveas", 21);
  EXPECT_EQ(sha256_hex(salted), "61e507149464bce4c616987d8644276f8da5e3fbe92dd5234edd60f55afbe5f0");
}

TEST(Sha256, EveryLengthAroundTheBlockBoundaryDiffers) {
  std::string previous;
  for (std::size_t n = 50; n < 140; ++n) {
    const std::string digest = sha256_hex(std::string(n, 'x'));
    EXPECT_EQ(digest.size(), 64u);
    EXPECT_NE(digest, previous) << n;
    previous = digest;
  }
}

}  // namespace
}  // namespace moe::data
