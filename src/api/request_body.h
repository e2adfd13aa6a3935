#pragma once

// Internal to the api module: parsing and checking JSON request bodies, with messages that
// say what was wrong and what was expected.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace keel::api::detail {

enum class BodyErrc { malformed, wrong_type, missing };

// Parses `body` as a JSON object. An empty body gives an empty object when `optional`, else a
// failure. `expected` describes the wanted shape and ends every message, e.g.
// `a JSON object with field "candidate" (string)`.
Result<nlohmann::json, BodyErrc> parseObjectBody(const std::string& body, bool optional,
                                                 std::string_view expected);

// A field that may be absent or null; present with another type is a failure naming the field.
Result<std::optional<std::string>, BodyErrc> optionalString(const nlohmann::json& object,
                                                            const std::string& field,
                                                            std::string_view expected);
Result<std::optional<bool>, BodyErrc> optionalBool(const nlohmann::json& object,
                                                   const std::string& field,
                                                   std::string_view expected);

// "string", "number", "object", ... for messages.
std::string jsonTypeName(const nlohmann::json& value);

}  // namespace keel::api::detail
