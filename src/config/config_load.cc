// Entry points: read the file, parse YAML, map and validate, and turn the collected problems
// into one message. yaml-cpp reports errors as exceptions; none escapes from here.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "config/config_reader.h"

namespace keel {
namespace {

using config_detail::ConfigReader;

std::string formatProblems(const std::string& origin, const std::vector<ConfigProblem>& problems) {
  std::string message;
  for (const ConfigProblem& p : problems) {
    if (!message.empty())
      message += '\n';
    message += origin + ": " + p.path + ": " + p.message;
  }
  return message;
}

}  // namespace

Result<std::shared_ptr<const Config>, ConfigErrc> loadConfigString(const std::string& yaml,
                                                                   const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    // Marks are 0-based; editors count from 1.
    std::string where = e.mark.is_null() ? std::string("(top level)")
                                         : "line " + std::to_string(e.mark.line + 1) + ", column " +
                                               std::to_string(e.mark.column + 1);
    return fail(ConfigErrc::syntax,
                origin + ": " + where + ": invalid YAML: " + e.msg + "; fix the syntax there");
  }
  try {
    ConfigReader reader;
    Config config;
    config_detail::readConfig(root, reader, config);
    config_detail::validateConfig(reader, config);
    if (!reader.problems().empty()) {
      return fail(ConfigErrc::invalid, formatProblems(origin, reader.problems()));
    }
    return std::shared_ptr<const Config>(std::make_shared<Config>(std::move(config)));
  } catch (const std::exception& e) {
    // Should not happen (every lookup checks the node type first); kept so a yaml-cpp
    // surprise becomes an error message instead of terminating the daemon.
    return fail(ConfigErrc::invalid,
                origin + ": (top level): cannot read the config: " + std::string(e.what()));
  }
}

Result<std::shared_ptr<const Config>, ConfigErrc> loadConfigFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    int error = errno;
    return fail(ConfigErrc::io, path + ": cannot open the config file: " + std::strerror(error) +
                                    "; check the path and permissions");
  }
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
    text.append(buffer, n);
  if (std::ferror(file.get())) {
    int error = errno;
    return fail(ConfigErrc::io, path + ": cannot read the config file: " + std::strerror(error));
  }
  return loadConfigString(text, path);
}

}  // namespace keel
