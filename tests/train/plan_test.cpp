#include "train/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/transformer.h"
#include "train/optimizer.h"
#include "util/error.h"

namespace moe::train {
namespace {
namespace fs = std::filesystem;

// The repository root, from this file's path (concept tests get no source dir).
fs::path repo_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

std::vector<fs::path> all_recipes() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(repo_root() / "recipes"))
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

config::Recipe recipe_at(const std::string& relative) {
  return config::load_recipe((repo_root() / relative).string());
}

// An expert-axis member that only reports its place: enough to build a
// sharded model (the constructor asks rank and size; nothing is exchanged).
class ShardPosition final : public Collectives {
 public:
  ShardPosition(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float*, std::size_t) override { unused(); }
  void all_reduce_sum(double*, std::size_t) override { unused(); }
  void all_to_all(const float*, float*, std::size_t) override { unused(); }
  void all_to_all(const double*, double*, std::size_t) override { unused(); }
  void all_gather(const float*, float*, std::size_t) override { unused(); }
  void broadcast(void*, std::size_t, int) override { unused(); }
  void barrier() override { unused(); }

 private:
  [[noreturn]] static void unused() { throw InternalError("ShardPosition has no collectives"); }
  int rank_, size_;
};

// Sums a built model's tensors into the plan's components, classifying by the
// names add_weights() gives them (independently of plan.cpp's classifier).
ParamBreakdown count_built(WeightTable<float>& w) {
  ParamBreakdown b;
  for (const WeightInfo& info : w.entries()) {
    const std::int64_t n = info.shape.numel();
    const std::string& s = info.name;
    auto ends = [&s](const std::string& tail) {
      return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (s == "embed") b.embedding += n;
    else if (ends(".moe.wg")) b.gate += n;
    else if (ends(".moe.wi") || ends(".moe.wo")) b.experts += n;
    else if (s.find(".ffn.") != std::string::npos) b.ffn += n;
    else if (s.find(".attn.") != std::string::npos || s.find(".cross.") != std::string::npos) b.attention += n;
    else if (ends(".scale") || ends(".bias")) b.norm += n;
    else ADD_FAILURE() << "unclassified weight " << s;
  }
  return b;
}

void expect_same(const ParamBreakdown& plan, const ParamBreakdown& built, const std::string& what) {
  EXPECT_EQ(plan.embedding, built.embedding) << what;
  EXPECT_EQ(plan.attention, built.attention) << what;
  EXPECT_EQ(plan.norm, built.norm) << what;
  EXPECT_EQ(plan.ffn, built.ffn) << what;
  EXPECT_EQ(plan.gate, built.gate) << what;
  EXPECT_EQ(plan.experts, built.experts) << what;
  EXPECT_EQ(plan.total(), built.total()) << what;
}

ModelConfig tiny_model(int experts, NormType norm, int d_kv) {
  ModelConfig m;
  m.vocab = 37;
  m.d_model = 8;
  m.ffn_dim = 12;
  m.heads = 2;
  m.d_kv = d_kv;
  m.enc_layers = 3;
  m.dec_layers = 2;
  m.moe_every = 2;
  m.moe_offset = 1;
  m.moe.num_experts = experts;
  m.moe.group_size = 16;
  m.norm = norm;
  m.max_positions = 32;
  return m;
}

TEST(PlanParams, DenseAndMoeCountsMatchARealModelByComponent) {
  for (int experts : {0, 4})
    for (NormType norm : {NormType::kLayerNorm, NormType::kRmsNorm})
      for (int d_kv : {0, 5}) {
        const ModelConfig m = tiny_model(experts, norm, d_kv);
        Transformer<float> model(m, 1);
        const std::string what = "experts " + std::to_string(experts) + " d_kv " + std::to_string(d_kv);
        EXPECT_EQ(count_parameters(m).total(), model.weights().numel()) << what;
        expect_same(count_parameters(m), count_built(model.weights()), what);
      }
}

TEST(PlanParams, PlannedTensorsAreTheModelsTensorsInOrder) {
  const ModelConfig m = tiny_model(4, NormType::kLayerNorm, 5);
  Transformer<float> model(m, 1);
  const auto planned = planned_tensors(m);
  const auto& built = model.weights().entries();
  ASSERT_EQ(planned.size(), built.size());
  for (std::size_t i = 0; i < built.size(); ++i) {
    EXPECT_EQ(planned[i].name, built[i].name);
    EXPECT_EQ(planned[i].numel(), built[i].shape.numel()) << built[i].name;
    EXPECT_EQ(planned[i].expert, built[i].axis == MeshAxis::kExpert) << built[i].name;
  }
}

TEST(PlanParams, BlockKindsSumToTheLayers) {
  const ModelConfig m = tiny_model(4, NormType::kLayerNorm, 0);
  config::Recipe r;
  r.model = m;
  const Plan p = make_plan(r);
  std::int64_t blocks = 0;
  int count = 0;
  for (const BlockKind& k : p.blocks) blocks += k.params_each * k.count, count += k.count;
  EXPECT_EQ(count, m.enc_layers + m.dec_layers);
  // Everything but the embedding and the two final norms lives in a block.
  EXPECT_EQ(blocks + p.params.embedding + 2 * 2 * m.d_model, p.params.total());
  EXPECT_EQ(p.moe_layers, 2);  // encoder layer 1, decoder layer 1
  // Each kind's size against the built model's first layer of that kind.
  Transformer<float> model(m, 1);
  auto built_layer = [&model](const std::string& prefix) {
    std::int64_t n = 0;
    for (const WeightInfo& info : model.weights().entries())
      if (info.name.rfind(prefix, 0) == 0) n += info.shape.numel();
    return n;
  };
  ASSERT_EQ(p.blocks.size(), 4u);
  EXPECT_EQ(p.blocks[0].name, "encoder dense");
  EXPECT_EQ(p.blocks[0].params_each, built_layer("encoder.layer.0."));
  EXPECT_EQ(p.blocks[1].name, "encoder moe");
  EXPECT_EQ(p.blocks[1].params_each, built_layer("encoder.layer.1."));
  EXPECT_EQ(p.blocks[2].name, "decoder dense");
  EXPECT_EQ(p.blocks[2].params_each, built_layer("decoder.layer.0."));
  EXPECT_EQ(p.blocks[3].name, "decoder moe");
  EXPECT_EQ(p.blocks[3].params_each, built_layer("decoder.layer.1."));
}

// Per-device parameters and optimiser state of each shard of an expert axis
// against a sharded model and the optimiser it really builds.
TEST(PlanDevice, PerDeviceParamsAndOptimizerStateMatchABuiltShard) {
  ModelConfig m = tiny_model(4, NormType::kLayerNorm, 0);
  config::Recipe r;
  r.model = m;
  r.mesh.expert = 2;
  for (config::OptimizerKind kind : {config::OptimizerKind::kAdafactor, config::OptimizerKind::kAdam})
    for (double beta1 : {0.0, 0.9}) {
      r.optimizer.name = kind;
      r.optimizer.beta1 = beta1;
      r.optimizer.min_dim_size_to_factor = 8;  // so that the tiny matrices are factored
      const Plan p = make_plan(r);
      for (int rank = 0; rank < 2; ++rank) {
        ShardPosition axis(rank, 2);
        Transformer<float> model(m, 1, &axis);
        WeightTable<float>& w = model.weights();
        EXPECT_EQ(p.params_per_device, w.numel());
        std::vector<ParamRef> refs;
        for (const WeightInfo& info : w.entries())
          refs.push_back({info.name, w.param(info.name), w.grad(info.name), info.axis == MeshAxis::kExpert ? 1 : 0});
        const auto opt = make_optimizer(r.optimizer, refs);
        std::int64_t state = 0;
        for (const NamedState& s : opt->state()) state += s.tensor.numel();
        EXPECT_EQ(p.optimizer_floats_per_device, state) << config::enum_name(kind) << " beta1 " << beta1;
        EXPECT_EQ(p.memory.optimizer, 4 * state);
        EXPECT_EQ(p.memory.params, 4 * w.numel());
      }
    }
}

// torchref's train_flops() (bench/torchref/moe_transformer.py), written out
// for heads * d_kv = d_model, per target token when Ls = Lt = L.
double torchref_train_flops_per_token(const ModelConfig& m, double B, double L) {
  const double d = m.d_model, f = m.ffn_dim, E = m.moe.num_experts, V = m.vocab;
  auto ffn = [&](int i) { return m.is_moe_layer(i) ? 2 * (2 * d * f) + d * E : 2 * d * f; };
  double enc_w = 0, dec_w_t = 0;
  for (int i = 0; i < m.enc_layers; ++i) enc_w += 4 * d * d + ffn(i);
  for (int i = 0; i < m.dec_layers; ++i) dec_w_t += 6 * d * d + ffn(i);
  const double dec_w_s = m.dec_layers * 2 * d * d, Ts = B * L, Tt = B * L;
  const double fwd_mm = 2 * (enc_w * Ts + dec_w_s * Ts + (dec_w_t + V * d) * Tt);
  const double fwd_att = 4 * B * d * (m.enc_layers * L * L + m.dec_layers * (L * L + L * L));
  return 3 * (fwd_mm + fwd_att) / Tt;
}

TEST(PlanFlops, MatchTorchrefFormula) {
  for (int experts : {0, 4}) {
    config::Recipe r;
    r.model = tiny_model(experts, NormType::kLayerNorm, 0);
    r.data.max_len = 24;
    r.train.batch_tokens = 240;
    const Plan p = make_plan(r);
    EXPECT_NEAR(p.train_flops_per_token, torchref_train_flops_per_token(r.model, 10, 24),
                1e-9 * p.train_flops_per_token);
    EXPECT_DOUBLE_EQ(p.train_flops_per_token, 3 * p.forward_flops_per_token);
    EXPECT_DOUBLE_EQ(p.train_flops_per_device_step, 240 * p.train_flops_per_token);
  }
}

TEST(PlanMoe, CapacityGroupsAndAllToAllBytes) {
  config::Recipe r;
  r.model = tiny_model(8, NormType::kLayerNorm, 0);
  r.model.moe.group_size = 100;
  r.model.moe.min_capacity = 4;
  r.model.moe.eval_capacity_factor = 4.0;
  r.train.batch_tokens = 1000;
  r.mesh.data = 2;
  r.mesh.expert = 4;
  const Plan p = make_plan(r);
  EXPECT_EQ(p.devices, 8);
  EXPECT_EQ(p.tokens_per_device, 125);  // every rank reads its share
  EXPECT_EQ(p.groups_per_device, 2);
  EXPECT_EQ(p.capacity, 25);       // ceil(100 * 2 / 8)
  EXPECT_EQ(p.eval_capacity, 50);  // ceil(100 * 4 / 8)
  EXPECT_EQ(p.experts_per_device, 2);
  EXPECT_EQ(p.all_to_all_bytes, 4LL * 8 * 2 * 25 * 8);  // E * G_local * C * M floats
  EXPECT_EQ(p.all_to_all_bytes_per_micro_batch, 4 * p.all_to_all_bytes * p.moe_layers);
  r.mesh.expert = 1;
  EXPECT_EQ(make_plan(r).all_to_all_bytes, 0);  // nothing to exchange
}

TEST(PlanMesh, OverrideParsesAndIsValidated) {
  const MeshOverride o = parse_mesh_override("data=2, expert=4");
  EXPECT_EQ(o.data, 2);
  EXPECT_EQ(o.expert, 4);
  EXPECT_EQ(parse_mesh_override("expert=8").data, 0);
  EXPECT_THROW(parse_mesh_override("model=2"), InputError);
  EXPECT_THROW(parse_mesh_override("data=0"), InputError);
  config::Recipe r;
  r.model = tiny_model(4, NormType::kLayerNorm, 0);
  EXPECT_EQ(make_plan(r, o).devices, 8);
  try {
    make_plan(r, parse_mesh_override("expert=3"));
    FAIL() << "3 ranks cannot split 4 experts";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--mesh: key 'mesh.expert'"), std::string::npos) << e.what();
  }
}

// The keys' ranges allow a million experts of 65536 x 1M in 128 layers,
// whose bytes (and, in more layers, parameters) once wrapped into negative numbers.
TEST(PlanLimits, CountsPast2To63AreRefusedNamingTheKeys) {
  config::Recipe r;
  r.model.d_model = 65536;
  r.model.ffn_dim = 1000000;
  r.model.moe.num_experts = 1048576;
  r.model.enc_layers = 64;
  r.model.dec_layers = 64;
  try {
    make_plan(r);
    FAIL() << "the parameter count passes 2^63";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the model is too large to count: more than 2^63 parameters"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("model.d_model 65536, model.ffn_dim 1000000, model.moe.num_experts 1048576, "
                        "model.enc_layers 64, model.dec_layers 64"),
              std::string::npos)
        << what;
  }
  // Its 8.8e18 parameters still count (exactly); their bytes do not. Twice the layers do not either.
  EXPECT_EQ(count_parameters(r.model).experts, 64 * 2LL * 1048576 * 65536 * 1000000);
  r.model.enc_layers = r.model.dec_layers = 128;
  EXPECT_THROW(count_parameters(r.model), InputError);
  // One layer each: 2^58 parameters and their bytes fit.
  r.model.enc_layers = r.model.dec_layers = 1;
  r.model.moe_offset = 0;
  const Plan p = make_plan(r);
  EXPECT_EQ(p.params.experts, 2 * 2LL * 1048576 * 65536 * 1000000);
  EXPECT_EQ(p.memory.params, 4 * p.params.total());
  EXPECT_GT(p.memory.total(), p.memory.params);
  // A batch whose attention workspace alone passes 2^63 bytes: the batch keys are named.
  r.train.batch_tokens = 1000000000000;
  r.data.max_len = 65536;
  r.model.max_positions = 65536;
  r.model.heads = 1024;
  try {
    make_plan(r);
    FAIL() << "the workspace bytes pass 2^63";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("a device's memory is too large to count"), std::string::npos) << what;
    EXPECT_NE(what.find("train.batch_tokens 1000000000000 over 1 device(s)"), std::string::npos) << what;
    EXPECT_NE(what.find("data.max_len 65536"), std::string::npos) << what;
  }
}

TEST(PlanLimits, WeightsThatCannotFitAreRefusedBeforeTraining) {
  config::Recipe r;
  r.model = tiny_model(4, NormType::kLayerNorm, 0);
  const Plan p = make_plan(r);
  const std::int64_t weights = p.memory.params + p.memory.grads + p.memory.optimizer;
  EXPECT_NO_THROW(check_fits_in_memory(p, weights));
  try {
    check_fits_in_memory(p, weights - 1);
    FAIL() << "one byte short";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("of memory and swap here (model.vocab 37, model.d_model 8"),
              std::string::npos)
        << e.what();
  }
}

// Every recipe of the repository loads, plans, and its plan agrees with a
// built model of the same structure (layers, experts, sharing, norm) at tiny widths.
TEST(PlanRecipes, EveryRecipePlansAndMatchesAShrunkenModel) {
  const auto recipes = all_recipes();
  ASSERT_GE(recipes.size(), 7u);
  for (const fs::path& path : recipes) {
    SCOPED_TRACE(path.string());
    const config::Recipe r = config::load_recipe(path.string());
    const Plan p = make_plan(r);
    EXPECT_GT(p.params.total(), 0);
    EXPECT_GT(p.memory.total(), p.memory.params);
    const auto j = nlohmann::json::parse(plan_json(p));
    EXPECT_EQ(j["params"]["total"].get<std::int64_t>(), p.params.total());
    EXPECT_NE(format_plan_table(p).find("total"), std::string::npos);

    ModelConfig small = r.model;
    small.vocab = 40;
    small.d_model = 8;
    small.ffn_dim = 12;
    small.heads = 2;
    small.d_kv = r.model.d_kv > 0 ? 3 : 0;
    small.max_positions = 8;
    small.moe.num_experts = std::min(r.model.moe.num_experts, 4);
    Transformer<float> model(small, 1);
    expect_same(count_parameters(small), count_built(model.weights()), path.string());
  }
}

// The CPU recipes compare models at equal per-token compute: the dense twin's
// ffn_dim is 1.5x the experts' hidden width (docs/recipes.md), and their data
// and run directories are the repository's work/ folder.
TEST(PlanRecipes, L10nDenseTwinMatchesTheMoeModelsPerTokenFlops) {
  const Plan dense = make_plan(recipe_at("recipes/l10n-100/dense.yaml"));
  EXPECT_EQ(dense.moe_layers, 0);
  for (const char* file : {"recipes/l10n-100/moe-8e.yaml", "recipes/l10n-100/moe-16e.yaml"}) {
    SCOPED_TRACE(file);
    const Plan moe = make_plan(recipe_at(file));
    EXPECT_EQ(moe.moe_layers, 4);
    EXPECT_EQ(moe.dense_twin_ffn_dim, dense.recipe.model.ffn_dim);
    EXPECT_NEAR(moe.train_flops_per_token / dense.train_flops_per_token, 1.0, 0.01);
    EXPECT_GT(moe.params.total(), 2 * dense.params.total());
    EXPECT_EQ(moe.recipe.train.max_minutes, dense.recipe.train.max_minutes);
  }
  for (const char* file : {"recipes/l10n-100/dense.yaml", "recipes/l10n-100/bilingual-xh.yaml"}) {
    const config::Recipe r = recipe_at(file);
    EXPECT_EQ(fs::weakly_canonical(r.data.corpus_dir.value), fs::weakly_canonical(repo_root() / "work/corpus"));
    EXPECT_EQ(fs::weakly_canonical(r.vocab.model.value), fs::weakly_canonical(repo_root() / "work/vocab/spm.model"));
    EXPECT_EQ(fs::weakly_canonical(r.checkpoint.dir.value).parent_path(),
              fs::weakly_canonical(repo_root() / "work/runs"));
    EXPECT_EQ(r.model.vocab, r.vocab.size);
  }
}

// GSHARD.md §1.1: 12.5B, 37B, 50B, 150B, 200B, 600B; ours sit a few percent
// above (the paper's figures are below E * L/2 * 2 * M * H, see docs/recipes.md).
TEST(PlanGshard, ReproducesThePapersWeightsAndFlatPerDeviceCost) {
  struct Row {
    const char* file;
    double paper;
  };
  const Row rows[] = {{"recipes/gshard/moe-128e-12l.yaml", 12.5e9},  {"recipes/gshard/moe-512e-12l.yaml", 50e9},
                      {"recipes/gshard/moe-2048e-12l.yaml", 200e9},  {"recipes/gshard/moe-128e-36l.yaml", 37e9},
                      {"recipes/gshard/moe-512e-36l.yaml", 150e9},   {"recipes/gshard/moe-2048e-36l.yaml", 600e9}};
  std::vector<Plan> plans;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.file);
    const Plan p = make_plan(recipe_at(row.file));
    ASSERT_TRUE(p.paper.has_value());
    EXPECT_EQ(p.paper->params, row.paper);
    const double ratio = static_cast<double>(p.params.total()) / row.paper;
    EXPECT_GT(ratio, 1.0);
    EXPECT_LT(ratio, 1.08);
    EXPECT_EQ(p.devices, p.recipe.model.moe.num_experts);  // D = E
    EXPECT_EQ(p.experts_per_device, 1);
    EXPECT_EQ(p.tokens_per_update, p.recipe.model.moe.num_experts == 2048 ? 4194304 : 1048576);
    EXPECT_EQ(p.tokens_per_device, 2048);  // one group per device and micro-batch
    EXPECT_EQ(p.groups_per_device, 1);
    EXPECT_EQ(p.capacity, 2 * 2048 / p.recipe.model.moe.num_experts);  // the paper's C = 2S/E
    plans.push_back(p);
  }
  // At D = E, per-device parameters, memory, FLOPs and the all-to-all stay
  // flat from 128 to 2048 experts (the gate's M*E and the routing's N*E terms
  // are the only ones that grow).
  for (int depth = 0; depth < 2; ++depth) {
    const Plan& e128 = plans[3 * depth];
    for (int k = 1; k < 3; ++k) {
      const Plan& p = plans[3 * depth + k];
      auto near = [](double a, double b, double tol) { return std::abs(a / b - 1) < tol; };
      EXPECT_TRUE(near(p.params_per_device, e128.params_per_device, 0.05)) << p.params_per_device;
      EXPECT_TRUE(near(p.memory.total(), e128.memory.total(), 0.10)) << p.memory.total();
      EXPECT_TRUE(near(p.train_flops_per_token, e128.train_flops_per_token, 0.15)) << p.train_flops_per_token;
      EXPECT_EQ(p.all_to_all_bytes, e128.all_to_all_bytes);
      EXPECT_LT(p.params.total(), e128.params.total() * 17);  // while the model grows 4x / 16x
      EXPECT_GT(p.params.total(), e128.params.total() * 3.5);
    }
  }
  const Plan dense = make_plan(recipe_at("recipes/gshard/dense-t96l.yaml"));
  ASSERT_TRUE(dense.paper.has_value());
  EXPECT_NEAR(static_cast<double>(dense.params.total()) / 2.3e9, 1.0, 0.02);
}

}  // namespace
}  // namespace moe::train
