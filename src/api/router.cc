#include "api/router.h"

#include <spdlog/spdlog.h>

#include <array>
#include <exception>
#include <string_view>

#include "api/handlers.h"
#include "common/clock.h"

namespace keel::api {

namespace asio = boost::asio;

namespace detail {

HttpResponse textResponse(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message);
  return r;
}

HttpResponse jsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  // Replace invalid UTF-8 (from names or tags) instead of throwing.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse jsonError(int status, std::string message) {
  return jsonResponse(status, nlohmann::json{{"error", std::move(message)}});
}

}  // namespace detail

namespace {

using detail::jsonError;
using detail::jsonResponse;
using detail::textResponse;

enum class Endpoint {
  patroni,
  cluster,
  history,
  config,
  switchover,
  failover,
  restart,
  reload,
  reinitialize,
  metrics,
  failsafe
};

struct Route {
  std::string_view path;
  Endpoint endpoint;
  std::string_view allow;  // the Allow header for 405 and OPTIONS
};

constexpr std::array<Route, 11> kRoutes = {{
    {"/patroni", Endpoint::patroni, "GET, HEAD, OPTIONS"},
    {"/cluster", Endpoint::cluster, "GET, HEAD, OPTIONS"},
    {"/history", Endpoint::history, "GET, HEAD, OPTIONS"},
    {"/config", Endpoint::config, "GET, HEAD, OPTIONS, PATCH, PUT"},
    {"/switchover", Endpoint::switchover, "POST, DELETE, OPTIONS"},
    {"/failover", Endpoint::failover, "POST, OPTIONS"},
    {"/restart", Endpoint::restart, "POST, DELETE, OPTIONS"},
    {"/reload", Endpoint::reload, "POST, OPTIONS"},
    {"/reinitialize", Endpoint::reinitialize, "POST, OPTIONS"},
    {"/metrics", Endpoint::metrics, "GET, HEAD, OPTIONS"},
    {"/failsafe", Endpoint::failsafe, "GET, HEAD, OPTIONS, POST"},
}};

constexpr std::string_view kHealthAllow = "GET, HEAD, OPTIONS";

bool isMutating(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// `allow` is a list like "GET, HEAD, OPTIONS".
bool allows(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    auto comma = allow.find(',');
    std::string_view item = allow.substr(0, comma);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    if (item == method) {
      return true;
    }
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 1);
  }
  return false;
}

HttpResponse methodNotAllowed(const HttpRequest& request, std::string_view allow) {
  auto r = jsonError(405, "method " + request.method + " is not allowed on " + request.path +
                              "; allowed: " + std::string(allow));
  r.headers["Allow"] = std::string(allow);
  return r;
}

// State endpoints answer HEAD with the GET status and no body.
HttpResponse stateResponse(const HttpRequest& request, const nlohmann::json& body) {
  auto r = jsonResponse(200, body);
  if (request.method == "HEAD") {
    r.body.clear();
  }
  return r;
}

}  // namespace

Router::Router(Backend& backend, std::optional<Credentials> credentials, WallClock wall_clock)
    : backend_(backend),
      credentials_(std::move(credentials)),
      wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(&wallClockSeconds)) {}

asio::awaitable<HttpResponse> Router::handle(HttpRequest request) const {
  std::string method = request.method;
  std::string path = request.path;
  try {
    co_return co_await dispatch(std::move(request));
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} failed: {}", method, path, e.what());
    co_return textResponse(500, "internal error while handling " + method + " " + path + ": " +
                                    e.what() + "; see the agent log");
  }
}

asio::awaitable<HttpResponse> Router::dispatch(HttpRequest request) const {
  // Trailing slashes are tolerated ("/patroni/"), as load balancer configs often carry them.
  while (request.path.size() > 1 && request.path.back() == '/') {
    request.path.pop_back();
  }

  if (auto check = detail::healthCheckFor(request.path)) {
    if (request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS") {
      co_return methodNotAllowed(request, kHealthAllow);
    }
    // Named locals, not temporaries in the co_return expression: GCC 12 destroys such a
    // temporary too early in a coroutine (found by ASan).
    const NodeSnapshot snapshot = backend_.snapshot();
    const double now = wall_clock_();
    HttpResponse response = detail::handleHealth(*check, request, snapshot, now);
    co_return response;
  }

  const Route* route = nullptr;
  for (const auto& r : kRoutes) {
    if (r.path == request.path) {
      route = &r;
    }
  }
  if (route == nullptr) {
    co_return jsonError(
        404, "no endpoint " + request.path + "; see docs/api.md for the endpoints Keel serves");
  }
  if (!allows(route->allow, request.method)) {
    co_return methodNotAllowed(request, route->allow);
  }
  if (request.method == "OPTIONS") {
    HttpResponse r = textResponse(204, "");
    r.headers["Allow"] = std::string(route->allow);
    co_return r;
  }

  if (isMutating(request.method)) {
    auto given = request.header("authorization");
    if (credentials_ && !(given && authorizationMatches(*given, *credentials_))) {
      auto r = textResponse(401, given ? "wrong user name or password; check restapi.authentication"
                                       : "authentication required: send HTTP basic auth with the "
                                         "user and password of restapi.authentication");
      r.headers["WWW-Authenticate"] = "Basic realm=\"Keel\"";
      co_return r;
    }
    if (request.body.size() > kMaxBodyBytes) {
      co_return textResponse(413, "request body of " + std::to_string(request.body.size()) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(kMaxBodyBytes) + " bytes");
    }
  }

  Backend& b = backend_;
  switch (route->endpoint) {
    case Endpoint::patroni: {
      const NodeSnapshot snap = b.snapshot();
      HttpResponse r = stateResponse(request, detail::patroniStatus(snap));
      co_return r;
    }
    case Endpoint::cluster: {
      const NodeSnapshot snap = b.snapshot();
      HttpResponse r = stateResponse(request, detail::clusterStatus(snap));
      co_return r;
    }
    case Endpoint::history: {
      const NodeSnapshot snap = b.snapshot();
      HttpResponse r = stateResponse(request, detail::historyDocument(snap));
      co_return r;
    }
    case Endpoint::config:
      if (request.method == "PATCH") {
        co_return co_await detail::patchConfig(b, std::move(request));
      }
      if (request.method == "PUT") {
        co_return co_await detail::putConfig(b, std::move(request));
      }
      {
        const NodeSnapshot snap = b.snapshot();
        HttpResponse r = stateResponse(request, snap.dynamic_config);
        co_return r;
      }
    case Endpoint::switchover:
      if (request.method == "DELETE") {
        co_return co_await detail::deleteSwitchover(b);
      }
      co_return co_await detail::postSwitchover(b, std::move(request));
    case Endpoint::failover:
      co_return co_await detail::postFailover(b, std::move(request));
    case Endpoint::restart:
      if (request.method == "DELETE") {
        // Keel does not schedule restarts, so there is never one to cancel.
        co_return textResponse(404, "no restarts are scheduled");
      }
      co_return co_await detail::postRestart(b, std::move(request));
    case Endpoint::reload:
      co_return co_await detail::postReload(b);
    case Endpoint::reinitialize:
      co_return co_await detail::postReinitialize(b, std::move(request));
    case Endpoint::failsafe:
      if (request.method == "POST") {
        co_return co_await detail::postFailsafe(b, std::move(request));
      }
      {
        const NodeSnapshot snap = b.snapshot();
        HttpResponse r = detail::getFailsafe(request, snap);
        co_return r;
      }
    case Endpoint::metrics: {
      const NodeSnapshot snap = b.snapshot();
      HttpResponse r = textResponse(200, detail::patroniMetrics(snap) + b.extraMetrics());
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      if (request.method == "HEAD") {
        r.body.clear();
      }
      co_return r;
    }
  }
  co_return jsonError(404, "no endpoint " + request.path);
}

}  // namespace keel::api
