#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <string>
#include <vector>

#include "api/backend.h"
#include "api/http_message.h"
#include "api/router.h"

namespace keel::api::testing {

// A Backend with a settable snapshot that records every operation it is asked for and
// answers with `next`.
class FakeBackend : public Backend {
 public:
  NodeSnapshot snap;
  OpResult next{OpResult::Status::ok, "done"};
  std::vector<std::string> calls;
  std::optional<SwitchoverRequest> last_switchover;
  std::optional<RestartRequest> last_restart;
  std::string last_candidate;
  std::optional<bool> last_force;
  nlohmann::json last_config;

  NodeSnapshot snapshot() const override { return snap; }

  boost::asio::awaitable<OpResult> switchover(SwitchoverRequest request) override {
    calls.push_back("switchover");
    last_switchover = request;
    co_return next;
  }
  boost::asio::awaitable<OpResult> cancelSwitchover() override {
    calls.push_back("cancelSwitchover");
    co_return next;
  }
  boost::asio::awaitable<OpResult> failover(std::string candidate) override {
    calls.push_back("failover");
    last_candidate = candidate;
    co_return next;
  }
  boost::asio::awaitable<OpResult> restart(RestartRequest request) override {
    calls.push_back("restart");
    last_restart = request;
    co_return next;
  }
  boost::asio::awaitable<OpResult> reload() override {
    calls.push_back("reload");
    co_return next;
  }
  boost::asio::awaitable<OpResult> reinitialize(bool force) override {
    calls.push_back("reinitialize");
    last_force = force;
    co_return next;
  }
  boost::asio::awaitable<OpResult> patchConfig(nlohmann::json patch) override {
    calls.push_back("patchConfig");
    last_config = patch;
    co_return next;
  }
  boost::asio::awaitable<OpResult> replaceConfig(nlohmann::json config) override {
    calls.push_back("replaceConfig");
    last_config = config;
    co_return next;
  }
  boost::asio::awaitable<OpResult> setPaused(bool paused) override {
    calls.push_back(paused ? "pause" : "resume");
    co_return next;
  }
  boost::asio::awaitable<OpResult> failsafe(nlohmann::json body) override {
    calls.push_back("failsafe");
    last_config = body;
    co_return next;
  }
};

inline constexpr double kNow = 1'700'000'000.0;

// A running primary holding the lock.
inline NodeSnapshot leaderSnapshot() {
  NodeSnapshot s;
  s.self = MemberView{.name = "node1",
                      .role = "leader",
                      .state = "running",
                      .host = "127.0.0.1",
                      .port = 5432,
                      .api_url = "http://127.0.0.1:8008/patroni",
                      .timeline = 3,
                      .wal_position = "0/3000060"};
  s.postgres_running = true;
  s.is_leader = true;
  s.writable = true;
  s.scope = "demo";
  s.version = "0.1.0";
  s.postmaster_start_time = kNow - 100;
  s.last_loop_epoch = kNow - 1;
  s.loop_deadline_seconds = 30;
  s.leader = "node1";
  return s;
}

// A streaming replica `lag` bytes behind.
inline NodeSnapshot replicaSnapshot(std::optional<std::uint64_t> lag = 0) {
  NodeSnapshot s = leaderSnapshot();
  s.self.name = "node2";
  s.self.role = "replica";
  s.self.state = "streaming";
  s.self.replication_state = "streaming";
  s.self.lag_bytes = lag;
  s.is_leader = false;
  s.writable = false;
  s.in_recovery = true;
  return s;
}

inline NodeSnapshot stoppedSnapshot() {
  NodeSnapshot s = replicaSnapshot(std::nullopt);
  s.self.state = "stopped";
  s.self.replication_state.clear();
  s.postgres_running = false;
  return s;
}

inline HttpRequest request(std::string method, std::string_view target, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  auto [path, query] = parseTarget(target);
  r.path = std::move(path);
  r.query = std::move(query);
  r.body = std::move(body);
  return r;
}

// Runs one request through the router on a private io_context.
inline HttpResponse call(const Router& router, HttpRequest req) {
  boost::asio::io_context ctx;
  HttpResponse out;
  std::exception_ptr error;
  boost::asio::co_spawn(ctx, router.handle(std::move(req)),
                        [&](std::exception_ptr e, HttpResponse r) {
                          error = e;
                          out = std::move(r);
                        });
  ctx.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return out;
}

}  // namespace keel::api::testing
