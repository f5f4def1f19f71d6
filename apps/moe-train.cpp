// moe-train RECIPE.yaml [--set key.path=value ...]: trains a model as the
// recipe says (see lib/train/trainer.h). Under mpirun each rank is one device
// of the recipe's mesh.
#include <CLI/CLI.hpp>
#include <iostream>

#include "config/dump.h"
#include "config/recipe.h"
#include "mesh/mesh.h"
#include "mesh/run_on_mesh.h"
#include "parse_flags.h"
#include "train/plan.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Train a GShard-style MoE Transformer from a YAML recipe.", "moe-train"};
  std::string recipe_path;
  std::vector<std::string> overrides;
  bool dump = false, help_config = false, no_resume = false, quiet = false;
  bool plan = false, no_profile = false;
  std::string plan_format = "table", plan_mesh;
  app.add_option("recipe", recipe_path, "the recipe (YAML)");
  // One KEY=VALUE per --set: a vector option would otherwise take every
  // value after it, the recipe path included ("--set a=1 recipe.yaml").
  app.add_option("--set", overrides, "override a recipe key: --set train.max_steps=100 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_flag("--dump-config", dump, "print the effective recipe (defaults filled) and exit");
  app.add_flag("--help-config", help_config, "list every recipe key with its type and default, and exit");
  app.add_flag("--no-resume", no_resume, "fail instead of resuming when the run directory has checkpoints");
  app.add_flag("-q,--quiet", quiet, "no progress output");
  app.add_flag("--no-profile", no_profile,
               "do not time GEMMs and MoE routing for the step-time breakdown in metrics.jsonl");
  app.set_version_flag("-V,--version", std::string("moe-train ") + moe::kVersion);
  CLI::Option* plan_flag = app.add_flag(
      "--plan", plan,
      "print parameters, per-device memory, FLOPs and all-to-all sizes of the recipe, and exit (allocates nothing)");
  app.add_option("--format", plan_format, "--plan output: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str()
      ->needs(plan_flag);
  app.add_option("--mesh", plan_mesh, "--plan for another mesh than the recipe's: data=D,expert=E")
      ->type_name("AXES")
      ->needs(plan_flag);
  if (const auto status = moe::apps::parse_flags(app, "moe-train", argc, argv)) return *status;

  // What these options print is their whole answer: a full disk or a closed
  // stdout must not end with status 0.
  using moe::apps::stdout_written;
  const auto exit_status = [] {
    if (stdout_written()) return 0;
    std::cerr << "moe-train: error: <stdout>: write failed\n";
    return 1;
  };
  if (help_config) {
    moe::config::Recipe defaults;
    moe::config::KeyLister lister;
    visit(lister, defaults);
    std::cout << lister.table();
    return exit_status();
  }
  if (recipe_path.empty()) {
    std::cerr << "moe-train: error: a recipe is required (moe-train RECIPE.yaml; --help for options)\n";
    return 1;
  }
  return moe::run_on_mesh("moe-train", [&](moe::MpiRuntime& runtime) {
    const moe::config::Recipe recipe = moe::config::load_recipe(recipe_path, overrides);
    if (dump) {
      if (runtime.world_rank() == 0) std::cout << moe::config::recipe_to_yaml(recipe);
      if (!stdout_written()) throw moe::FileError("<stdout>", 0, "write failed");
      return 0;
    }
    if (plan) {
      const moe::train::MeshOverride mesh_override =
          plan_mesh.empty() ? moe::train::MeshOverride{} : moe::train::parse_mesh_override(plan_mesh);
      const moe::train::Plan p = moe::train::make_plan(recipe, mesh_override);
      if (runtime.world_rank() == 0)
        std::cout << (plan_format == "json" ? moe::train::plan_json(p) : moe::train::format_plan_table(p));
      if (!stdout_written()) throw moe::FileError("<stdout>", 0, "write failed");
      return 0;
    }
    moe::MeshSpec spec;
    spec.axes = {{"data", recipe.mesh.data}, {"expert", recipe.mesh.expert}};
    moe::Mesh mesh(runtime, spec);
    moe::train::install_stop_signal_handlers();
    moe::train::TrainerOptions options;
    options.resume = !no_resume;
    options.quiet = quiet;
    options.profile = !no_profile;
    options.recipe_path = recipe_path;
    moe::train::train(recipe, mesh, options);
    return 0;
  });
}
