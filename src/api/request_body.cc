#include "api/request_body.h"

namespace keel::api::detail {

std::string jsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "boolean";
    case nlohmann::json::value_t::string:
      return "string";
    case nlohmann::json::value_t::array:
      return "array";
    case nlohmann::json::value_t::object:
      return "object";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "number";
    default:
      return "unsupported value";
  }
}

Result<nlohmann::json, BodyErrc> parseObjectBody(const std::string& body, bool optional,
                                                 std::string_view expected) {
  bool blank = body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) {
    if (optional) {
      return nlohmann::json::object();
    }
    return fail(BodyErrc::missing, "request body is empty; expected " + std::string(expected));
  }
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // Mostly parse_error; out_of_range for a number beyond a double ("1E400"). e.what() reads
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..."; the bracketed id
    // means nothing to a user.
    std::string what = e.what();
    if (auto close = what.find("] ");
        what.rfind("[json.exception", 0) == 0 && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return fail(BodyErrc::malformed,
                "request body is not valid JSON (" + what + "); expected " + std::string(expected));
  }
  if (!parsed.is_object()) {
    return fail(BodyErrc::wrong_type, "request body is a JSON " + jsonTypeName(parsed) +
                                          "; expected " + std::string(expected));
  }
  return parsed;
}

namespace {

Failure<BodyErrc> wrongType(const std::string& field, const nlohmann::json& value,
                            std::string_view want, std::string_view expected) {
  return fail(BodyErrc::wrong_type, "field \"" + field + "\" must be " + std::string(want) +
                                        ", got " + jsonTypeName(value) + "; expected " +
                                        std::string(expected));
}

}  // namespace

Result<std::optional<std::string>, BodyErrc> optionalString(const nlohmann::json& object,
                                                            const std::string& field,
                                                            std::string_view expected) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    return std::optional<std::string>{};
  }
  if (!it->is_string()) {
    return wrongType(field, *it, "a string", expected);
  }
  return std::optional<std::string>{it->get<std::string>()};
}

Result<std::optional<bool>, BodyErrc> optionalBool(const nlohmann::json& object,
                                                   const std::string& field,
                                                   std::string_view expected) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    return std::optional<bool>{};
  }
  if (!it->is_boolean()) {
    return wrongType(field, *it, "a boolean (true or false)", expected);
  }
  return std::optional<bool>{it->get<bool>()};
}

}  // namespace keel::api::detail
