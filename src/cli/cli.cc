#include "cli/cli.h"

#include <iostream>

namespace keel::cli {

int run(int argc, char** argv) {
  CLI::App app{"Keel: PostgreSQL high availability in one daemon"};
  app.require_subcommand(1);
  int exit_code = 0;
  addAgentCommand(app, &exit_code);
  addCtlCommands(app, &exit_code);
  addConfigCommands(app, &exit_code);
  addDemoCommand(app, &exit_code);
  addTlsCommands(app, &exit_code);
  auto* version = app.add_subcommand("version", "Print Keel's version");
  version->callback([] { std::cout << "keel " << KEEL_VERSION << "\n"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return exit_code;
}

}  // namespace keel::cli
