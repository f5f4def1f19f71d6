// moe-train RECIPE.yaml [--set key.path=value ...]: trains a model as the
// recipe says (see lib/train/trainer.h). Under mpirun each rank is one device
// of the recipe's mesh.
#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>

#include "config/dump.h"
#include "config/recipe.h"
#include "mesh/mesh.h"
#include "mesh/run_on_mesh.h"
#include "train/trainer.h"
#include "util/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Train a GShard-style MoE Transformer from a YAML recipe.", "moe-train"};
  std::string recipe_path;
  std::vector<std::string> overrides;
  bool dump = false, help_config = false, no_resume = false, quiet = false, version = false;
  app.add_option("recipe", recipe_path, "the recipe (YAML)");
  app.add_option("--set", overrides, "override a recipe key: --set train.max_steps=100 (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_flag("--dump-config", dump, "print the effective recipe (defaults filled) and exit");
  app.add_flag("--help-config", help_config, "list every recipe key with its type and default, and exit");
  app.add_flag("--no-resume", no_resume, "fail instead of resuming when the run directory has checkpoints");
  app.add_flag("-q,--quiet", quiet, "no progress output");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::cout << "moe-train " << moe::kVersion << "\n";
    return 0;
  }
  if (help_config) {
    moe::config::Recipe defaults;
    moe::config::KeyLister lister;
    visit(lister, defaults);
    for (const auto& row : lister.rows)
      std::cout << std::left << std::setw(40) << row.key << std::setw(30) << row.type << std::setw(14)
                << row.value << row.doc << "\n";
    return 0;
  }
  if (recipe_path.empty()) {
    std::cerr << "moe-train: error: a recipe is required (moe-train RECIPE.yaml; --help for options)\n";
    return 1;
  }
  return moe::run_on_mesh("moe-train", [&](moe::MpiRuntime& runtime) {
    const moe::config::Recipe recipe = moe::config::load_recipe(recipe_path, overrides);
    if (dump) {
      if (runtime.world_rank() == 0) std::cout << moe::config::recipe_to_yaml(recipe);
      return 0;
    }
    moe::MeshSpec spec;
    spec.axes = {{"data", recipe.mesh.data}, {"expert", recipe.mesh.expert}};
    moe::Mesh mesh(runtime, spec);
    moe::train::install_stop_signal_handlers();
    moe::train::TrainerOptions options;
    options.resume = !no_resume;
    options.quiet = quiet;
    options.recipe_path = recipe_path;
    moe::train::train(recipe, mesh, options);
    return 0;
  });
}
