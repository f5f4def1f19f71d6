#include "io/tensor_set.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors.h"
#include "util/error.h"

namespace moe::io {
namespace {
namespace fs = std::filesystem;

constexpr std::int64_t kExperts = 4;

// A table with one replicated matrix and one expert tensor [E_local, 2, 3],
// holding shard `shard` of `shards`, initialised from a fixed seed (so every
// sharding holds the same global numbers).
struct Model {
  WeightTable<float> table;
  Model(int shard, int shards) {
    const std::int64_t local = kExperts / shards;
    table.add({"embed", Shape{5, 3}, Init::kUniform, 1.0});
    table.add({"moe.wi", Shape{local, 2, 3}, Init::kUniform, 1.0, MeshAxis::kExpert, shard * local});
    table.allocate();
    table.initialize(7);
  }
  std::vector<ShardedTensor> tensors() { return weight_tensors(table, kExperts); }
  void zero() {
    table.params(MeshAxis::kReplicated).zero();
    table.params(MeshAxis::kExpert).zero();
  }
};

class TensorSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("moe-tensorset-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

void expect_same(Model& a, Model& b) {
  for (auto axis : {MeshAxis::kReplicated, MeshAxis::kExpert}) {
    auto x = a.table.params(axis), y = b.table.params(axis);
    ASSERT_EQ(x.numel(), y.numel());
    for (std::int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(x[i], y[i]) << i;
  }
}

TEST_F(TensorSetTest, SingleShardRoundTripsBitForBit) {
  Model saved(0, 1);
  save_tensor_set(dir_, "weights", saved.tensors(), ShardRole{}, {{"format", "test"}});
  Model loaded(0, 1);
  loaded.zero();
  const auto meta = load_tensor_set(dir_, "weights", loaded.tensors());
  EXPECT_EQ(meta.at("format"), "test");
  expect_same(saved, loaded);
}

TEST_F(TensorSetTest, ReshardsFourToOneToTwo) {
  // Four ranks each write their expert shard; rank 0 writes the replicated file.
  for (int r = 0; r < 4; ++r) {
    Model rank(r, 4);
    save_tensor_set(dir_ + "/four", "weights", rank.tensors(),
                    ShardRole{r, 4, /*write_replicated=*/r == 0, /*write_experts=*/true}, {});
  }
  EXPECT_TRUE(fs::exists(dir_ + "/four/weights-experts-3-of-4.safetensors"));
  Model one(0, 1), reference(0, 1);
  one.zero();
  load_tensor_set(dir_ + "/four", "weights", one.tensors());
  expect_same(one, reference);  // same numbers as a model initialised unsharded

  save_tensor_set(dir_ + "/one", "weights", one.tensors(), ShardRole{}, {});
  for (int r = 0; r < 2; ++r) {
    Model half(r, 2), want(r, 2);
    half.zero();
    load_tensor_set(dir_ + "/one", "weights", half.tensors());
    expect_same(half, want);
  }
}

TEST_F(TensorSetTest, MissingOrMismatchedFilesAreClearErrors) {
  Model saved(0, 1);
  save_tensor_set(dir_, "weights", saved.tensors(), ShardRole{}, {});
  fs::remove(dir_ + "/weights-experts-0-of-1.safetensors");
  Model loaded(0, 1);
  try {
    load_tensor_set(dir_, "weights", loaded.tensors());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("expert weights are missing"), std::string::npos);
  }
  EXPECT_THROW(load_tensor_set(dir_ + "/nowhere", "weights", loaded.tensors()), FileError);

  // A model of another shape is refused, naming the tensor.
  save_tensor_set(dir_ + "/small", "weights", saved.tensors(), ShardRole{}, {});
  WeightTable<float> other;
  other.add({"embed", Shape{6, 3}, Init::kZeros, 0});
  other.allocate();
  try {
    load_tensor_set(dir_ + "/small", "weights", weight_tensors(other, 0));
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'embed' has shape [5,3], the model expects [6,3]"),
              std::string::npos);
  }
}

// Only PREFIX-experts-0-of-N.safetensors names a shard count: a renamed
// backup is not one, and a count no checkpoint has is a one-line error (both
// were a bare "stoi" before).
TEST_F(TensorSetTest, ExpertShardNamesAreParsedStrictly) {
  Model saved(0, 1);
  save_tensor_set(dir_, "weights", saved.tensors(), ShardRole{}, {});
  const std::string shard = dir_ + "/weights-experts-0-of-1.safetensors";
  fs::rename(shard, dir_ + "/weights-experts-0-of-.safetensors.bak");
  Model loaded(0, 1);
  try {
    load_tensor_set(dir_, "weights", loaded.tensors());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("expert weights are missing"), std::string::npos) << e.what();
  }
  fs::rename(dir_ + "/weights-experts-0-of-.safetensors.bak", dir_ + "/weights-experts-0-of-99999999999.safetensors");
  try {
    load_tensor_set(dir_, "weights", loaded.tensors());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("weights-experts-0-of-99999999999.safetensors: not a shard count"),
              std::string::npos)
        << e.what();
  }
  fs::rename(dir_ + "/weights-experts-0-of-99999999999.safetensors", shard);
  load_tensor_set(dir_, "weights", loaded.tensors());
  expect_same(saved, loaded);
  // The right shape in the wrong type is named as such.
  const ShardedTensor wi = saved.tensors()[1];
  ASSERT_EQ(wi.name, "moe.wi");
  const std::vector<std::int32_t> ints(static_cast<std::size_t>(wi.local.numel()), 7);
  write_safetensors(shard, {TensorSource{wi.name, DType::kI32, {kExperts, 2, 3}, ints.data()}});
  try {
    load_tensor_set(dir_, "weights", loaded.tensors());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'moe.wi' is I32, expert shards are F32"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace moe::io
