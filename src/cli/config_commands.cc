#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "config/config.h"

namespace keel::cli {

void addConfigCommands(CLI::App& app, int* exit_code) {
  auto* config = app.add_subcommand("config", "Work with Keel configuration files");
  config->require_subcommand(1);
  auto* validate = config->add_subcommand(
      "validate", "Check a configuration file; print the effective configuration when valid");
  auto path = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  validate->add_option("file", *path, "YAML configuration file")->required();
  validate->add_flag("-q,--quiet", *quiet, "print nothing when the file is valid");
  validate->callback([=] {
    auto cfg = loadConfigFile(*path);
    if (!cfg) {
      std::cerr << cfg.message() << "\n";
      *exit_code = kExitUsage;
      return;
    }
    if (!*quiet) {
      std::cout << toJson(**cfg).dump(2) << "\n";
      std::cerr << *path << ": valid\n";
    }
  });
}

}  // namespace keel::cli
