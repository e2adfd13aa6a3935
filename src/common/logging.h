#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace keel {

// Configures the process-wide spdlog default logger: "<time> <level> [<node>] message" on
// stderr. `level` is one of trace, debug, info, warn, error; unknown names fall back to info.
void initLogging(const std::string& level, const std::string& node);

}  // namespace keel
