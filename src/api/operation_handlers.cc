#include <array>

#include "api/handlers.h"
#include "api/request_body.h"

namespace keel::api::detail {

namespace {

namespace asio = boost::asio;

constexpr std::string_view kSwitchoverShape =
    "a JSON object with fields \"leader\" (string, the current leader), \"candidate\" (string, "
    "optional) and \"scheduled_at\" (ISO-8601 string, optional)";
constexpr std::string_view kFailoverShape = "a JSON object with field \"candidate\" (string)";
constexpr std::string_view kRestartShape =
    "a JSON object with optional fields \"restart_pending\" (boolean) and \"role\" (string: "
    "primary or replica)";
constexpr std::string_view kReinitializeShape =
    "a JSON object with optional field \"force\" (boolean)";
constexpr std::string_view kFailsafeShape =
    "a JSON object with field \"name\" (string, the primary's member name) and optional "
    "\"member\", \"scope\", \"api_url\", \"conn_url\" (strings) and \"ttl_ms\" (a whole "
    "number of milliseconds)";
constexpr std::string_view kConfigShape =
    "a JSON object holding dynamic configuration keys (for example {\"ttl\": 30})";

const char* defaultMessage(OpResult::Status status) {
  switch (status) {
    case OpResult::Status::ok:
      return "done";
    case OpResult::Status::accepted:
      return "accepted";
    case OpResult::Status::bad_request:
      return "bad request";
    case OpResult::Status::precondition:
      return "precondition failed";
    case OpResult::Status::unavailable:
      return "service unavailable";
    case OpResult::Status::conflict:
      return "conflict";
  }
  return "";
}

// Operations answer in text/plain, as Patroni does; patronictl prints the text as is.
HttpResponse operationResponse(const OpResult& r) {
  return textResponse(httpStatusFor(r.status),
                      r.message.empty() ? std::string(defaultMessage(r.status)) : r.message);
}

// Config changes answer with the resulting config (JSON) on success, text otherwise.
HttpResponse configResponse(const OpResult& r) {
  if (r.status == OpResult::Status::ok || r.status == OpResult::Status::accepted) {
    if (!r.body.is_null()) {
      return jsonResponse(httpStatusFor(r.status), r.body);
    }
  }
  return operationResponse(r);
}

template <typename T>
HttpResponse badRequest(const Result<T, BodyErrc>& r) {
  return textResponse(400, r.message());
}

}  // namespace

int httpStatusFor(OpResult::Status status) {
  switch (status) {
    case OpResult::Status::ok:
      return 200;
    case OpResult::Status::accepted:
      return 202;
    case OpResult::Status::bad_request:
      return 400;
    case OpResult::Status::precondition:
      return 412;
    case OpResult::Status::unavailable:
      return 503;
    case OpResult::Status::conflict:
      return 409;
  }
  return 500;
}

asio::awaitable<HttpResponse> postSwitchover(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, false, kSwitchoverShape);
  if (!body) {
    co_return badRequest(body);
  }
  auto leader = optionalString(*body, "leader", kSwitchoverShape);
  if (!leader) {
    co_return badRequest(leader);
  }
  auto candidate = optionalString(*body, "candidate", kSwitchoverShape);
  if (!candidate) {
    co_return badRequest(candidate);
  }
  auto scheduled_at = optionalString(*body, "scheduled_at", kSwitchoverShape);
  if (!scheduled_at) {
    co_return badRequest(scheduled_at);
  }
  if (!leader->has_value() || (*leader)->empty()) {
    co_return textResponse(400,
                           "switchover needs field \"leader\" naming the current leader; "
                           "expected " +
                               std::string(kSwitchoverShape));
  }
  SwitchoverRequest op{.leader = *leader, .candidate = *candidate, .scheduled_at = *scheduled_at};
  if (op.candidate && op.candidate->empty()) {
    op.candidate.reset();
  }
  if (op.scheduled_at && op.scheduled_at->empty()) {
    op.scheduled_at.reset();
  }
  OpResult result = co_await backend.switchover(std::move(op));
  co_return operationResponse(result);
}

asio::awaitable<HttpResponse> deleteSwitchover(Backend& backend) {
  // The backend reads the DCS itself (the snapshot may lag by a loop); refusing to cancel can
  // only mean nothing is scheduled, which Patroni answers with 404.
  OpResult r = co_await backend.cancelSwitchover();
  if (r.status == OpResult::Status::precondition) {
    co_return textResponse(404, r.message.empty() ? "no switchover is scheduled" : r.message);
  }
  co_return operationResponse(r);
}

asio::awaitable<HttpResponse> postFailover(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, false, kFailoverShape);
  if (!body) {
    co_return badRequest(body);
  }
  auto candidate = optionalString(*body, "candidate", kFailoverShape);
  if (!candidate) {
    co_return badRequest(candidate);
  }
  if (!candidate->has_value() || (*candidate)->empty()) {
    co_return textResponse(400,
                           "failover needs field \"candidate\" naming the member to "
                           "promote; expected " +
                               std::string(kFailoverShape));
  }
  if (body->contains("scheduled_at") && !(*body)["scheduled_at"].is_null()) {
    co_return textResponse(400,
                           "a failover cannot be scheduled; use POST /switchover with "
                           "\"scheduled_at\" instead");
  }
  OpResult result = co_await backend.failover(**candidate);
  co_return operationResponse(result);
}

asio::awaitable<HttpResponse> postRestart(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, true, kRestartShape);
  if (!body) {
    co_return badRequest(body);
  }
  static constexpr std::array<const char*, 3> kUnsupported = {"schedule", "timeout",
                                                              "postgres_version"};
  for (const char* unsupported : kUnsupported) {
    if (body->contains(unsupported) && !(*body)[unsupported].is_null()) {
      co_return textResponse(
          400, "field \"" + std::string(unsupported) +
                   "\" is not supported by Keel: restarts run immediately and without a "
                   "version check; remove the field and retry");
    }
  }
  auto pending = optionalBool(*body, "restart_pending", kRestartShape);
  if (!pending) {
    co_return badRequest(pending);
  }
  auto role = optionalString(*body, "role", kRestartShape);
  if (!role) {
    co_return badRequest(role);
  }
  RestartRequest op{.restart_pending = pending->value_or(false)};
  if (role->has_value()) {
    const std::string& r = **role;
    if (r == "primary" || r == "master" || r == "leader") {
      op.role = "primary";
    } else if (r == "replica") {
      op.role = "replica";
    } else if (r != "any" && !r.empty()) {
      co_return textResponse(400,
                             "field \"role\" is \"" + r + "\"; expected primary, replica or any");
    }
  }
  OpResult result = co_await backend.restart(std::move(op));
  co_return operationResponse(result);
}

asio::awaitable<HttpResponse> postReload(Backend& backend) {
  OpResult result = co_await backend.reload();
  co_return operationResponse(result);
}

asio::awaitable<HttpResponse> postReinitialize(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, true, kReinitializeShape);
  if (!body) {
    co_return badRequest(body);
  }
  auto force = optionalBool(*body, "force", kReinitializeShape);
  if (!force) {
    co_return badRequest(force);
  }
  OpResult result = co_await backend.reinitialize(force->value_or(false));
  co_return operationResponse(result);
}

asio::awaitable<HttpResponse> patchConfig(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, false, kConfigShape);
  if (!body) {
    co_return badRequest(body);
  }
  OpResult result = co_await backend.patchConfig(std::move(*body));
  co_return configResponse(result);
}

asio::awaitable<HttpResponse> postFailsafe(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, false, kFailsafeShape);
  if (!body) {
    co_return badRequest(body);
  }
  if (auto t = body->find("ttl_ms");
      t != body->end() && !t->is_null() && !(t->is_number_integer() && t->get<long long>() >= 0)) {
    co_return textResponse(400,
                           "failsafe: \"ttl_ms\" must be a whole number of milliseconds "
                           ">= 0, got " +
                               jsonTypeName(*t) + "; expected " + std::string(kFailsafeShape));
  }
  for (const char* field : {"name", "member", "scope", "api_url", "conn_url"}) {
    auto value = optionalString(*body, field, kFailsafeShape);
    if (!value) {
      co_return badRequest(value);
    }
    if (std::string_view(field) == "name" && (!value->has_value() || (*value)->empty())) {
      co_return textResponse(400, "failsafe needs field \"name\" naming the primary; expected " +
                                      std::string(kFailsafeShape));
    }
  }
  OpResult result = co_await backend.failsafe(std::move(*body));
  co_return operationResponse(result);
}

HttpResponse getFailsafe(const HttpRequest& request, const NodeSnapshot& snapshot) {
  if (!snapshot.failsafe_mode) {
    return textResponse(503,
                        "Failsafe mode is disabled (failsafe_mode in the dynamic "
                        "configuration)");
  }
  if (!snapshot.failsafe) {
    return textResponse(503,
                        "failsafe_mode is on but the leader has not written the failsafe key yet");
  }
  HttpResponse r = jsonResponse(200, *snapshot.failsafe);
  if (request.method == "HEAD")
    r.body.clear();
  return r;
}

asio::awaitable<HttpResponse> putConfig(Backend& backend, HttpRequest request) {
  auto body = parseObjectBody(request.body, false, kConfigShape);
  if (!body) {
    co_return badRequest(body);
  }
  OpResult result = co_await backend.replaceConfig(std::move(*body));
  co_return configResponse(result);
}

}  // namespace keel::api::detail
