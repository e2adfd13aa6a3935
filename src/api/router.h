#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>

#include "api/backend.h"
#include "api/credentials.h"
#include "api/http_message.h"

namespace keel::api {

// Maps one HTTP request to one response: Patroni-compatible health checks, state and config
// endpoints, and operations forwarded to the Backend. No sockets: HttpServer feeds it parsed
// requests and tests call it directly.
//
// Threading: handle() runs on the control-plane executor. The Router keeps no mutable state,
// so overlapping calls (one per connection) are safe; `backend` must outlive the Router and
// every handle() in flight.
class Router {
 public:
  // Epoch seconds "now", for /liveness; tests pass a fixed value.
  using WallClock = std::function<double()>;

  // With `credentials`, every mutating request (POST, PUT, PATCH, DELETE) must carry them as
  // HTTP basic auth; without, mutating requests are open, as in Patroni.
  Router(Backend& backend, std::optional<Credentials> credentials, WallClock wall_clock = {});

  // Never throws: a failing backend coroutine is answered with 500 and logged.
  boost::asio::awaitable<HttpResponse> handle(HttpRequest request) const;

 private:
  boost::asio::awaitable<HttpResponse> dispatch(HttpRequest request) const;

  Backend& backend_;
  std::optional<Credentials> credentials_;
  WallClock wall_clock_;
};

}  // namespace keel::api
