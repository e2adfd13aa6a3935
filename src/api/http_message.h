#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace keel::api {

// An HTTP request as the Router sees it: no sockets, so handlers are tested as plain functions.
struct HttpRequest {
  std::string method = "GET";  // upper case: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE
  std::string path = "/";      // percent-decoded, without the query string
  std::map<std::string, std::string> query;    // percent-decoded; a repeated key keeps the last
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  // The header's value, or nullopt. `name` must be lower case.
  std::optional<std::string> header(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers (Allow, WWW-Authenticate, ...)
};

// Builds a request from a request-target ("/replica?lag=1MB&tag_zone=a"): splits the path from
// the query and percent-decodes both ('+' in the query means a space, as in HTML forms).
// Malformed escapes are kept verbatim rather than rejected, as most servers do.
std::pair<std::string, std::map<std::string, std::string>> parseTarget(std::string_view target);

std::string percentDecode(std::string_view text, bool plus_is_space);

// Largest request body the API accepts; larger bodies are answered with 413.
inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
// Largest request line plus headers; larger ones are answered with 431.
inline constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

}  // namespace keel::api
