// libFuzzer target: the YAML config loader (loadConfigString: YAML parse, schema, validation,
// derived defaults) and the value syntaxes it uses, on arbitrary text. fuzz/corpus/config/
// holds the example configs, the demo's config and small configs for each section.
//
// Checked: the loader never throws and every failure names the file; a config that loads
// prints as JSON (`keel config validate`), and that JSON, which is YAML, loads again into the
// same effective config (toJson is meant to be read back). A broken check aborts.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"

namespace {

constexpr const char* kOrigin = "fuzz.yaml";

[[noreturn]] void broken(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "config fuzzer: invariant broken: %s\n%s\n", what.c_str(),
               detail.substr(0, 2000).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // The scalar syntaxes on the raw text (short inputs only: they are single values).
  if (size <= 256) {
    (void)keel::parseDuration(text);
    (void)keel::parseByteSize(text);
    (void)keel::parseHostPort(text);
    auto rule = keel::parseProxyHbaRule(text);
    if (!rule && rule.message().empty()) {
      broken("an hba rule refused without a message", text);
    }
  }

  auto loaded = keel::loadConfigString(text, kOrigin);
  if (!loaded) {
    if (loaded.message().rfind(std::string(kOrigin) + ": ", 0) != 0) {
      broken("a config failure that does not name the file", loaded.message());
    }
    return 0;
  }
  const nlohmann::json effective = keel::toJson(**loaded);
  std::string printed;
  try {
    printed = effective.dump(2);  // as `keel config validate` prints it
  } catch (const nlohmann::json::exception& e) {
    broken("the effective config cannot be printed", e.what());
  }
  auto reloaded = keel::loadConfigString(printed, kOrigin);
  if (!reloaded) {
    broken("the printed effective config does not load again", reloaded.message());
  }
  if (keel::toJson(**reloaded) != effective) {
    broken("the printed effective config loads into another config",
           keel::toJson(**reloaded).dump(2) + "\n---- was ----\n" + printed);
  }
  return 0;
}
