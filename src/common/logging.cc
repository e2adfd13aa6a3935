#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace keel {

void initLogging(const std::string& level, const std::string& node) {
  auto logger = spdlog::stderr_color_mt("keel");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [" + node + "] %v");
  auto lvl = spdlog::level::from_str(level);
  logger->set_level(lvl == spdlog::level::off && level != "off" ? spdlog::level::info : lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace keel
