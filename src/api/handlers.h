#pragma once

// Internal to the api module: the handler functions the Router dispatches to, split by job
// (health_handlers.cc, state_handlers.cc, operation_handlers.cc).

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/backend.h"
#include "api/http_message.h"

namespace keel::api::detail {

HttpResponse textResponse(int status, std::string message);
HttpResponse jsonResponse(int status, const nlohmann::json& body);
// Errors of the routing layer (404, 405): {"error": message}.
HttpResponse jsonError(int status, std::string message);

// ---- health checks (health_handlers.cc) ----

enum class HealthCheck {
  primary,           // /, /primary, /master, /read-write
  leader,            // /leader
  standby_leader,    // /standby-leader
  replica,           // /replica
  read_only,         // /read-only
  health,            // /health
  liveness,          // /liveness
  readiness,         // /readiness
  sync,              // /sync, /synchronous: a synchronous standby
  read_only_sync,    // /read-only-sync: the primary or a synchronous standby
  quorum,            // /quorum: a quorum standby
  read_only_quorum,  // /read-only-quorum: the primary or a quorum standby
  async,             // /async, /asynchronous: a replica that is neither
};

std::optional<HealthCheck> healthCheckFor(std::string_view path);

// GET answers with the /patroni document; HEAD and OPTIONS with the status alone.
// `now` is epoch seconds, for /liveness.
HttpResponse handleHealth(HealthCheck check, const HttpRequest& request,
                          const NodeSnapshot& snapshot, double now);

// "1048576", "16kB", "1MB", "1GB", "1TB" (PostgreSQL's units, 1024-based, case-insensitive)
// -> bytes; nullopt for anything else (negative, overflow, unknown unit).
std::optional<std::uint64_t> parseByteSize(std::string_view text);

// ---- state (state_handlers.cc) ----

nlohmann::json patroniStatus(const NodeSnapshot& snapshot);
nlohmann::json clusterStatus(const NodeSnapshot& snapshot);
nlohmann::json historyDocument(const NodeSnapshot& snapshot);

// ---- metrics (metrics_handlers.cc) ----

// This member's state in the Prometheus text format 0.0.4 with Patroni's metric names and
// {scope, name} labels, so Patroni dashboards and alerts carry over.
std::string patroniMetrics(const NodeSnapshot& snapshot);

// ---- operations and config changes (operation_handlers.cc) ----
// Requests are taken by value: these are coroutines and may outlive the caller's frame.

boost::asio::awaitable<HttpResponse> postSwitchover(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> deleteSwitchover(Backend& backend);
boost::asio::awaitable<HttpResponse> postFailover(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> postRestart(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> postReload(Backend& backend);
boost::asio::awaitable<HttpResponse> postReinitialize(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> patchConfig(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> putConfig(Backend& backend, HttpRequest request);
boost::asio::awaitable<HttpResponse> postFailsafe(Backend& backend, HttpRequest request);
// GET /failsafe: the failsafe key, or 503 when failsafe_mode is off.
HttpResponse getFailsafe(const HttpRequest& request, const NodeSnapshot& snapshot);

int httpStatusFor(OpResult::Status status);

}  // namespace keel::api::detail
