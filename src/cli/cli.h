#pragma once

#include <CLI/CLI.hpp>

namespace keel::cli {

// Exit codes: 0 success, 1 operation failed, 2 bad usage or invalid configuration.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `keel` entry point: parses argv and runs the chosen subcommand.
int run(int argc, char** argv);

// Each command family registers its subcommands on `app`; the callback it installs sets
// `*exit_code`.
void addAgentCommand(CLI::App& app, int* exit_code);
void addCtlCommands(CLI::App& app, int* exit_code);
void addConfigCommands(CLI::App& app, int* exit_code);
void addDemoCommand(CLI::App& app, int* exit_code);
void addTlsCommands(CLI::App& app, int* exit_code);

}  // namespace keel::cli
