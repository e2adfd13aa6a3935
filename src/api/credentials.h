#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keel::api {

// HTTP basic-auth credentials for the mutating endpoints. The agent converts them from
// config::RestApiConfig::authentication; the API module does not depend on config.
struct Credentials {
  std::string username;
  std::string password;
};

// The value of an Authorization header carrying `credentials`: "Basic <base64(user:pass)>".
std::string basicAuthorization(const Credentials& credentials);

// Decodes "Basic <base64>" into user and password; nullopt when the header is not basic auth
// or not valid base64 or has no ':'.
std::optional<Credentials> parseBasicAuthorization(std::string_view header);

// True when `header` carries exactly `expected`. Compares digests of both sides in constant
// time, so neither the content nor the length of the secret leaks through timing.
bool authorizationMatches(std::string_view header, const Credentials& expected);

}  // namespace keel::api
