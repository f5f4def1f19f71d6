#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/crc32.h"
#include "util/error.h"

namespace moe::io {
namespace {
namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moe-io-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "w.safetensors").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_example() {
    write_safetensors(path_,
                      {{"a", DType::kF32, {2, 3}, a_.data()}, {"b", DType::kI64, {2}, b_.data()}},
                      {{"format", "moe-nmt/1"}});
  }
  std::string read_all() {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write_all(const std::string& s) { std::ofstream(path_, std::ios::binary) << s; }

  fs::path dir_;
  std::string path_;
  std::vector<float> a_ = {1, 2, 3, 4, 5, 6.5f};
  std::vector<std::int64_t> b_ = {7, -8};
};

TEST_F(SafetensorsTest, RoundTripsTensorsAndMetadata) {
  write_example();
  SafetensorsFile f(path_);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.metadata().at("format"), "moe-nmt/1");
  std::vector<float> a(6);
  f.read_f32("a", {2, 3}, a.data());
  EXPECT_EQ(a, a_);
  EXPECT_EQ(f.info("b").dtype, DType::kI64);
  std::int64_t b1;
  f.read_bytes("b", 8, 8, &b1);
  EXPECT_EQ(b1, -8);
  EXPECT_THROW(f.read_bytes("b", 8, 9, &b1), FileError);  // past the tensor's 16 bytes
}

TEST_F(SafetensorsTest, LayoutIsPlainSafetensors) {
  // What a Python reader relies on: u64 LE header length, JSON header with
  // dtype/shape/data_offsets, data section 8-byte aligned right after it.
  write_example();
  const std::string s = read_all();
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(static_cast<unsigned char>(s[i])) << (8 * i);
  EXPECT_EQ((8 + n) % 8, 0u);
  const auto header = nlohmann::json::parse(s.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json({24, 40}));
  EXPECT_EQ(s.size(), 8 + n + 40);
  float first;
  std::memcpy(&first, s.data() + 8 + n, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST_F(SafetensorsTest, FlippedDataByteIsDetected) {
  write_example();
  std::string s = read_all();
  s[s.size() - 20] ^= 0x01;
  write_all(s);
  try {
    SafetensorsFile f(path_);
    FAIL() << "corruption not detected";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos);
  }
}

TEST_F(SafetensorsTest, TruncatedAndGarbageFilesAreRefused) {
  write_example();
  const std::string s = read_all();
  write_all(s.substr(0, s.size() - 4));
  EXPECT_THROW(SafetensorsFile{path_}, FileError);
  write_all("xy");
  EXPECT_THROW(SafetensorsFile{path_}, FileError);
  write_all(std::string("\x10\0\0\0\0\0\0\0", 8) + "{not json at all");
  EXPECT_THROW(SafetensorsFile{path_}, FileError);
  EXPECT_THROW(SafetensorsFile{(dir_ / "missing").string()}, FileError);
}

TEST_F(SafetensorsTest, ShapeMismatchAndMissingTensorNameTheTensor) {
  write_example();
  SafetensorsFile f(path_);
  std::vector<float> out(6);
  try {
    f.read_f32("a", {3, 2}, out.data());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a' has shape [2,3], the model expects [3,2]"),
              std::string::npos);
  }
  EXPECT_THROW(f.read_f32("zzz", {1}, out.data()), FileError);
}

TEST(AtomicFile, FailedWriteLeavesOldFileAndNoTemporary) {
  const fs::path dir = fs::temp_directory_path() / ("moe-atomic-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "state.json").string();
  write_file_atomically(path, std::string("old"));
  EXPECT_THROW(write_file_atomically(path,
                                     [](std::ostream& out) {
                                       out << "half";
                                       throw std::runtime_error("crash mid-write");
                                     }),
               std::runtime_error);
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
  fs::remove_all(dir);
}

TEST(AtomicFile, AReplacedFileKeepsItsPermissions) {
  const fs::path dir = fs::temp_directory_path() / ("moe-atomic-mode-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "out.txt").string();
  write_file_atomically(path, std::string("old"));
  const auto mode = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;  // 640
  fs::permissions(path, mode);
  write_file_atomically(path, std::string("new"));
  EXPECT_EQ(fs::status(path).permissions(), mode);
  fs::remove_all(dir);
}

TEST(AtomicFile, OnlyItsOwnTemporariesAreLeftoversToRemove) {
  EXPECT_TRUE(is_atomic_write_temporary(".recipe.yaml.tmp.123"));
  EXPECT_TRUE(is_atomic_write_temporary(".train.de.0123abcd.ids.tmp.4567"));
  for (const char* name : {"recipe.yaml.tmp.123", ".recipe.yaml.tmp.", ".recipe.yaml.tmp.12a", ".tmp.123",
                           ".recipe.yaml.tmp", "notes.txt", ".step-00000003.tmp"})
    EXPECT_FALSE(is_atomic_write_temporary(name)) << name;
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(crc32("56789", 5, crc32("1234", 4)), 0xCBF43926u);
}

}  // namespace
}  // namespace moe::io
