#include "api/beast_request.h"

#include <algorithm>
#include <cctype>

namespace keel::api {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

HttpRequest fromBeastRequest(
    const boost::beast::http::request<boost::beast::http::string_body>& request) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  std::transform(out.method.begin(), out.method.end(), out.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto [path, query] = parseTarget(request.target());
  out.path = std::move(path);
  out.query = std::move(query);
  for (const auto& field : request) {
    std::string name = lower(field.name_string());
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) {
      it->second += ", " + std::string(field.value());
    }
  }
  out.body = request.body();
  return out;
}

}  // namespace keel::api
