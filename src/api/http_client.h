#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/credentials.h"
#include "common/result.h"

namespace keel::api {

enum class ClientErrc {
  invalid_request,  // bad URL or method: fix the caller
  unreachable,      // name did not resolve or connection refused/reset
  timeout,          // no complete answer within the timeout
  io,               // the connection broke mid-exchange or the answer was not HTTP
};

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case

  // The body parsed as JSON; nullopt when it is not JSON.
  std::optional<nlohmann::json> json() const;
};

// Parts of an "http://host:port/path?query" URL. IPv6 hosts are written "[::1]".
struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";  // path and query
};
Result<HttpUrl, ClientErrc> parseHttpUrl(const std::string& url);

// A small HTTP/1.1 client for `keel ctl` and for probing peers' /patroni from the HA loop.
// One request a connection (Connection: close); plain HTTP only. Any status code is a
// successful exchange: the caller decides what a 412 or 503 means. Failures name the URL and
// the cause, e.g. "cannot reach http://127.0.0.1:8008/patroni: connection refused; is the
// agent running?".
//
// Threading: the client holds only settings; request() runs on the calling coroutine's
// executor and may be used from several coroutines at once.
class HttpClient {
 public:
  explicit HttpClient(std::optional<Credentials> credentials = std::nullopt,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : credentials_(std::move(credentials)), timeout_(timeout) {}

  // `body`: null sends no body; anything else is sent as application/json. The timeout
  // covers resolving, connecting, sending and reading the whole answer.
  boost::asio::awaitable<Result<ClientResponse, ClientErrc>> request(
      std::string method, std::string url, nlohmann::json body = nullptr) const;

  // Blocking form for the CLI: runs its own io_context on the calling thread. Do not call it
  // from an io_context thread.
  Result<ClientResponse, ClientErrc> requestSync(std::string method, std::string url,
                                                 nlohmann::json body = nullptr) const;

 private:
  std::optional<Credentials> credentials_;
  std::chrono::milliseconds timeout_;
};

}  // namespace keel::api
