#pragma once

// Internal to the config module: typed reads from a YAML tree that collect every problem
// instead of stopping at the first, so one run of `keel config validate` shows them all.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace keel::config_detail {

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string joinPath(const std::string& parent, std::string_view key);
// Text for "got ...": the scalar in double quotes, or what kind of node it is.
std::string describe(const YAML::Node& node);
// The allowed name closest to `key` when `key` is a likely typo of it, else "".
std::string closestName(std::string_view key, const std::vector<std::string_view>& allowed);

class ConfigReader {
 public:
  void problem(std::string path, std::string message);
  const std::vector<ConfigProblem>& problems() const { return problems_; }
  // True when a problem was reported at `path` or below it; cross-field checks skip fields
  // that already failed, so one mistake yields one message.
  bool failed(std::string_view path) const;
  // True when `text` (a value, or a key of the mapping at `path` when `key`) is well-formed
  // UTF-8; else reports a problem at `path`. Every string the config keeps must be: it is
  // published as JSON (member records, the REST API, `keel config validate`), which cannot
  // carry other bytes.
  bool utf8(const std::string& text, const std::string& path, bool key = false);

  // Checks that `node` is a mapping whose keys are unique strings from `allowed`; reports
  // each offender. Returns false (after reporting) when `node` is not a mapping at all.
  // `allowed` empty means any key is accepted.
  bool mapping(const YAML::Node& node, const std::string& path,
               std::vector<std::string_view> allowed);

  // Each reader below looks up map[key]; a missing or null value leaves `out` untouched and
  // returns false. A value of the wrong shape reports a problem and returns false.
  bool text(const YAML::Node& map, const std::string& path, const char* key, std::string& out);
  bool flag(const YAML::Node& map, const std::string& path, const char* key, bool& out);
  bool integer(const YAML::Node& map, const std::string& path, const char* key, long long min,
               long long max, int& out);
  bool duration(const YAML::Node& map, const std::string& path, const char* key,
                std::chrono::milliseconds& out);
  bool byteSize(const YAML::Node& map, const std::string& path, const char* key,
                std::uint64_t& out);
  bool hostPort(const YAML::Node& map, const std::string& path, const char* key, HostPort& out);
  bool textList(const YAML::Node& map, const std::string& path, const char* key,
                std::vector<std::string>& out);
  // A mapping of scalar keys to scalar values; plain (unquoted) true/false become on/off
  // when `bools_as_on_off`, as postgresql.conf spells them. Entries with a non-scalar value
  // are reported and left out; the rest are stored.
  bool textMap(const YAML::Node& map, const std::string& path, const char* key,
               std::map<std::string, std::string>& out, bool bools_as_on_off);
  // Reports map[key] as "expected <expected>, got <its value as written>"; for range checks
  // after a successful typed read.
  void reject(const YAML::Node& map, const std::string& path, const char* key,
              std::string_view expected);
  // The child mapping at map[key] (its keys checked against `allowed`), or nullopt when
  // absent, null or not a mapping (the latter reported).
  std::optional<YAML::Node> section(const YAML::Node& map, const std::string& path, const char* key,
                                    std::vector<std::string_view> allowed);

 private:
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& path,
                                    std::string_view expected);

  std::vector<ConfigProblem> problems_;
};

// map[key] when present and not null. Lookups go through a const node on purpose: yaml-cpp's
// non-const operator[] inserts missing keys.
std::optional<YAML::Node> child(const YAML::Node& map, const char* key);

// "http://host:port", optionally with a trailing "/"; "http://" + result.str() is the
// normalized URL.
std::optional<HostPort> parseHttpUrl(const std::string& text);
// "2s" for whole seconds, else "500ms"; parseDuration reads it back.
std::string formatDuration(std::chrono::milliseconds value);
bool isWildcard(const HostPort& address);
bool isAbsolutePath(const std::string& path);

// config_schema.cc: maps the YAML tree onto `config`, checking types, unknown keys and
// single-field ranges.
void readConfig(const YAML::Node& root, ConfigReader& reader, Config& config);
// config_validate.cc: fills defaults that depend on other fields and checks rules that span
// fields. Runs after readConfig; skips fields readConfig already reported.
void validateConfig(ConfigReader& reader, Config& config);

}  // namespace keel::config_detail
