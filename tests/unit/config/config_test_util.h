#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.h"

namespace keel::testing {

// The smallest config that validates: everything else takes its default.
inline constexpr const char* kMinimalYaml = R"(scope: demo
name: node1
data_dir: /var/lib/keel
postgresql:
  authentication:
    superuser: {password: su-secret}
    replication: {password: repl-secret}
)";

// kMinimalYaml with the field at dotted `path` set to `value` (parsed as YAML, so "{a: 1}" is
// a mapping and "'500ms'" a quoted string).
inline std::string withField(const std::string& path, const std::string& value,
                             const std::string& base = kMinimalYaml) {
  YAML::Node root = YAML::Load(base);
  std::size_t start = 0;
  std::vector<YAML::Node> chain{root};
  while (true) {
    std::size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    YAML::Node next = chain.back()[key];
    if (dot == std::string::npos) {
      next = YAML::Load(value);
      break;
    }
    chain.push_back(next);
    start = dot + 1;
  }
  return YAML::Dump(root);
}

// The failure message for `yaml`, which must not validate.
inline std::string errorsOf(const std::string& yaml) {
  auto result = loadConfigString(yaml, "keel.yaml");
  if (result.ok()) {
    ADD_FAILURE() << "config unexpectedly valid:\n" << yaml;
    return "";
  }
  EXPECT_EQ(result.code(), ConfigErrc::invalid);
  return result.message();
}

inline std::shared_ptr<const Config> valid(const std::string& yaml) {
  auto result = loadConfigString(yaml, "keel.yaml");
  if (!result.ok()) {
    ADD_FAILURE() << "config rejected:\n" << result.message() << "\n--- config:\n" << yaml;
    return nullptr;
  }
  return result.value();
}

}  // namespace keel::testing
