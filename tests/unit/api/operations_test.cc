#include <gtest/gtest.h>

#include "api/credentials.h"
#include "api/router.h"
#include "fake_backend.h"

namespace keel::api {
namespace {

using namespace testing;
using nlohmann::json;

class OperationsTest : public ::testing::Test {
 protected:
  FakeBackend backend;
  Router router{backend, std::nullopt, [] { return kNow; }};

  void SetUp() override { backend.snap = leaderSnapshot(); }

  HttpResponse post(std::string_view target, std::string body) {
    return call(router, request("POST", target, std::move(body)));
  }
};

TEST_F(OperationsTest, SwitchoverPassesFields) {
  backend.next = {OpResult::Status::ok, "Successfully switched over to \"node2\""};
  auto r = post("/switchover", R"({"leader":"node1","candidate":"node2"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "Successfully switched over to \"node2\"");
  ASSERT_TRUE(backend.last_switchover);
  EXPECT_EQ(backend.last_switchover->leader, "node1");
  EXPECT_EQ(backend.last_switchover->candidate, "node2");
  EXPECT_FALSE(backend.last_switchover->scheduled_at);
}

TEST_F(OperationsTest, ScheduledSwitchoverIs202) {
  backend.next = {OpResult::Status::accepted, "Switchover scheduled"};
  auto r =
      post("/switchover",
           R"({"leader":"node1","candidate":null,"scheduled_at":"2030-01-01T00:00:00+00:00"})");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(backend.last_switchover->scheduled_at, "2030-01-01T00:00:00+00:00");
  EXPECT_FALSE(backend.last_switchover->candidate);
}

TEST_F(OperationsTest, SwitchoverNeedsTheLeader) {
  auto r = post("/switchover", R"({"candidate":"node2"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"leader\""), std::string::npos) << r.body;
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(OperationsTest, EveryStatusMapsToItsCode) {
  const std::vector<std::pair<OpResult::Status, int>> table = {
      {OpResult::Status::ok, 200},          {OpResult::Status::accepted, 202},
      {OpResult::Status::bad_request, 400}, {OpResult::Status::precondition, 412},
      {OpResult::Status::unavailable, 503}, {OpResult::Status::conflict, 409}};
  for (auto [status, code] : table) {
    backend.next = {status, "why"};
    EXPECT_EQ(post("/switchover", R"({"leader":"node1"})").status, code);
    EXPECT_EQ(post("/failover", R"({"candidate":"node2"})").status, code);
    EXPECT_EQ(post("/restart", "").status, code);
    EXPECT_EQ(post("/reload", "").status, code);
    EXPECT_EQ(post("/reinitialize", "").status, code);
    auto r = post("/reload", "");
    EXPECT_EQ(r.body, "why");
  }
}

TEST_F(OperationsTest, EmptyMessageGetsADefault) {
  backend.next = {OpResult::Status::unavailable, ""};
  auto r = post("/reload", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.body.empty());
}

TEST_F(OperationsTest, MalformedJsonNamesPositionAndShape) {
  auto r = post("/failover", R"({"candidate": )");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not valid JSON"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("column"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("expected a JSON object with field \"candidate\" (string)"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("json.exception"), std::string::npos) << r.body;
  EXPECT_TRUE(backend.calls.empty());
}

// Found by fuzz/api_fuzzer.cc: nlohmann reports a number too large for a double as
// out_of_range, not parse_error, and the handler let it escape as a 500.
TEST_F(OperationsTest, NumberTooLargeIsMalformedJson) {
  HttpRequest patch = request("PATCH", "/config", R"({"maximum_lag_on_failover": 10E4857})");
  auto r = call(router, std::move(patch));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not valid JSON (number overflow parsing '10E4857')"), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("json.exception"), std::string::npos) << r.body;
  EXPECT_EQ(post("/switchover", R"({"leader": -1e400})").status, 400);
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(OperationsTest, NonObjectBodyIs400) {
  auto r = post("/failover", R"(["node2"])");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("JSON array"), std::string::npos) << r.body;
}

TEST_F(OperationsTest, WrongFieldTypeNamesTheField) {
  auto r = post("/failover", R"({"candidate": 2})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field \"candidate\" must be a string, got number"), std::string::npos)
      << r.body;
  r = post("/reinitialize", R"({"force": "yes"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field \"force\""), std::string::npos) << r.body;
  r = post("/restart", R"({"restart_pending": 1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field \"restart_pending\""), std::string::npos) << r.body;
  r = post("/switchover", R"({"leader": "node1", "scheduled_at": 5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field \"scheduled_at\""), std::string::npos) << r.body;
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(OperationsTest, FailoverNeedsACandidate) {
  for (const char* body : {"", "{}", R"({"candidate": ""})", R"({"leader": "node1"})"}) {
    auto r = post("/failover", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("candidate"), std::string::npos) << r.body;
  }
  EXPECT_EQ(post("/failover", R"({"candidate":"n2","scheduled_at":"2030-01-01T00:00:00Z"})").status,
            400);
  EXPECT_TRUE(backend.calls.empty());
  EXPECT_EQ(post("/failover", R"({"candidate":"node2"})").status, 200);
  EXPECT_EQ(backend.last_candidate, "node2");
}

TEST_F(OperationsTest, RestartFields) {
  EXPECT_EQ(post("/restart", R"({"restart_pending": true, "role": "master"})").status, 200);
  ASSERT_TRUE(backend.last_restart);
  EXPECT_TRUE(backend.last_restart->restart_pending);
  EXPECT_EQ(backend.last_restart->role, "primary");
  EXPECT_EQ(post("/restart", R"({"role": "any"})").status, 200);
  EXPECT_FALSE(backend.last_restart->role);
  EXPECT_FALSE(backend.last_restart->restart_pending);
  EXPECT_EQ(post("/restart", R"({"role": "replica"})").status, 200);
  EXPECT_EQ(backend.last_restart->role, "replica");
  EXPECT_EQ(post("/restart", R"({"role": "witness"})").status, 400);
}

TEST_F(OperationsTest, RestartRejectsUnsupportedFields) {
  for (const char* field : {"schedule", "timeout", "postgres_version"}) {
    auto r = post("/restart", json{{field, "x"}}.dump());
    EXPECT_EQ(r.status, 400) << field;
    EXPECT_NE(r.body.find("not supported"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << r.body;
  }
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(OperationsTest, DeleteRestartHasNothingToCancel) {
  auto r = call(router, request("DELETE", "/restart"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no restarts are scheduled");
}

TEST_F(OperationsTest, CancelSwitchover) {
  backend.next = {OpResult::Status::ok, "scheduled switchover deleted"};
  auto r = call(router, request("DELETE", "/switchover"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(backend.calls, std::vector<std::string>{"cancelSwitchover"});
  backend.next = {OpResult::Status::precondition, "no switchover is scheduled"};
  r = call(router, request("DELETE", "/switchover"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no switchover is scheduled");
}

TEST_F(OperationsTest, ReinitializeForce) {
  EXPECT_EQ(post("/reinitialize", R"({"force": true})").status, 200);
  EXPECT_EQ(backend.last_force, true);
  EXPECT_EQ(post("/reinitialize", "").status, 200);
  EXPECT_EQ(backend.last_force, false);
}

TEST_F(OperationsTest, PatchConfigMergesAndAnswersWithTheResult) {
  backend.next = {OpResult::Status::ok, "configuration updated",
                  json{{"ttl", 20}, {"pause", true}}};
  auto r = call(router, request("PATCH", "/config", R"({"pause": true, "loop_wait": null})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(json::parse(r.body), json({{"ttl", 20}, {"pause", true}}));
  EXPECT_EQ(backend.calls, std::vector<std::string>{"patchConfig"});
  EXPECT_EQ(backend.last_config, json({{"pause", true}, {"loop_wait", nullptr}}));
}

TEST_F(OperationsTest, PutConfigReplaces) {
  backend.next = {OpResult::Status::ok, "configuration updated", json{{"ttl", 40}}};
  auto r = call(router, request("PUT", "/config", R"({"ttl": 40})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(backend.calls, std::vector<std::string>{"replaceConfig"});
}

TEST_F(OperationsTest, ConfigErrorsAreText) {
  backend.next = {OpResult::Status::bad_request, "ttl: expected a number of seconds >= 20"};
  auto r = call(router, request("PATCH", "/config", R"({"ttl": 5})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "ttl: expected a number of seconds >= 20");
  r = call(router, request("PATCH", "/config", "[]"));
  EXPECT_EQ(r.status, 400);
  r = call(router, request("PUT", "/config", ""));
  EXPECT_EQ(r.status, 400);
}

TEST_F(OperationsTest, OversizedBodyIs413) {
  std::string big(kMaxBodyBytes + 1, ' ');
  auto r = call(router, request("PATCH", "/config", big));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(backend.calls.empty());
}

TEST(RouterErrors, BackendExceptionIs500) {
  struct Throws final : FakeBackend {
    boost::asio::awaitable<OpResult> reload() override {
      throw std::runtime_error("boom");
      co_return OpResult{};
    }
  } backend;
  Router router(backend, std::nullopt);
  auto r = call(router, request("POST", "/reload"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("boom"), std::string::npos);
}

// ---- authentication ----

class AuthTest : public ::testing::Test {
 protected:
  FakeBackend backend;
  Credentials creds{"admin", "s3cret:with:colons"};
  Router router{backend, creds, [] { return kNow; }};

  void SetUp() override { backend.snap = leaderSnapshot(); }

  HttpResponse reload(std::optional<std::string> authorization) {
    auto req = request("POST", "/reload");
    if (authorization) {
      req.headers["authorization"] = *authorization;
    }
    return call(router, std::move(req));
  }
};

TEST_F(AuthTest, MissingCredentialsAre401WithChallenge) {
  auto r = reload(std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["WWW-Authenticate"], "Basic realm=\"Keel\"");
  EXPECT_NE(r.body.find("authentication required"), std::string::npos);
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(AuthTest, WrongCredentialsAre401) {
  for (const char* header :
       {"Basic YWRtaW46d3Jvbmc=", "Basic !!!!", "Bearer abc", "Basic", "basic YWRtaW4="}) {
    auto r = reload(header);
    EXPECT_EQ(r.status, 401) << header;
    EXPECT_NE(r.body.find("wrong user name or password"), std::string::npos);
  }
  EXPECT_EQ(reload(basicAuthorization({"admin", "s3cret"})).status, 401);
  EXPECT_EQ(reload(basicAuthorization({"Admin", "s3cret:with:colons"})).status, 401);
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(AuthTest, RightCredentialsPass) {
  EXPECT_EQ(reload(basicAuthorization(creds)).status, 200);
  // The scheme is case-insensitive (RFC 7617).
  std::string header = basicAuthorization(creds);
  header.replace(0, 5, "BASIC");
  EXPECT_EQ(reload(header).status, 200);
  EXPECT_EQ(backend.calls.size(), 2u);
}

TEST_F(AuthTest, ReadsNeedNoCredentials) {
  EXPECT_EQ(call(router, request("GET", "/patroni")).status, 200);
  EXPECT_EQ(call(router, request("GET", "/primary")).status, 200);
  EXPECT_EQ(call(router, request("GET", "/config")).status, 200);
}

TEST_F(AuthTest, EveryMutationIsGuarded) {
  for (auto [method, target] :
       std::vector<std::pair<const char*, const char*>>{{"POST", "/switchover"},
                                                        {"DELETE", "/switchover"},
                                                        {"POST", "/failover"},
                                                        {"POST", "/restart"},
                                                        {"DELETE", "/restart"},
                                                        {"POST", "/reinitialize"},
                                                        {"PATCH", "/config"},
                                                        {"PUT", "/config"}}) {
    EXPECT_EQ(call(router, request(method, target, "{}")).status, 401) << method << target;
  }
  EXPECT_TRUE(backend.calls.empty());
}

TEST(AuthOpen, NoCredentialsConfiguredMeansOpen) {
  FakeBackend backend;
  Router router(backend, std::nullopt);
  EXPECT_EQ(call(router, request("POST", "/reload")).status, 200);
}

TEST(Credentials, RoundTrip) {
  auto header = basicAuthorization({"u", "p:q"});
  EXPECT_EQ(header, "Basic dTpwOnE=");
  auto parsed = parseBasicAuthorization(header);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->username, "u");
  EXPECT_EQ(parsed->password, "p:q");
  EXPECT_FALSE(parseBasicAuthorization("Basic bm9jb2xvbg=="));  // "nocolon"
  EXPECT_TRUE(authorizationMatches(header, {"u", "p:q"}));
  EXPECT_FALSE(authorizationMatches(header, {"u", "p"}));
  EXPECT_FALSE(authorizationMatches("", {"", ""}));
}

// POST /failsafe: a primary whose DCS is out of reach asks to be confirmed. The body names the
// primary; the member's answer (Accepted, 503 when failsafe_mode is off, 409 when it runs as
// primary) comes from the agent.
TEST_F(OperationsTest, FailsafeConfirmationsNeedTheLeadersName) {
  backend.snap = replicaSnapshot();
  backend.next = {OpResult::Status::ok, "Accepted"};
  auto r = post("/failsafe", R"({"name":"node1","api_url":"http://127.0.0.1:8008"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Accepted");
  ASSERT_EQ(backend.calls, std::vector<std::string>{"failsafe"});
  EXPECT_EQ(backend.last_config.value("name", ""), "node1");

  backend.calls.clear();
  for (const char* bad :
       {R"({})", R"({"name":""})", R"({"name":7})", R"({"name":"node1","api_url":5})",
        R"({"name":"node1","member":[]})", R"({"name":"node1","ttl_ms":-1})",
        R"({"name":"node1","ttl_ms":"2s"})", R"([1])", "not json"}) {
    SCOPED_TRACE(bad);
    auto b = post("/failsafe", bad);
    EXPECT_EQ(b.status, 400);
    EXPECT_NE(b.body.find("\"name\""), std::string::npos) << b.body;
  }
  EXPECT_TRUE(backend.calls.empty()) << "a bad body reached the agent";

  backend.next = {OpResult::Status::unavailable, "Failsafe mode is disabled on node2"};
  EXPECT_EQ(post("/failsafe", R"({"name":"node1"})").status, 503);
  backend.next = {OpResult::Status::conflict, "Running as a leader"};
  EXPECT_EQ(post("/failsafe", R"({"name":"node1"})").status, 409);
}

TEST_F(OperationsTest, FailsafeKeyIsServedWhileTheModeIsOn) {
  auto off = call(router, request("GET", "/failsafe"));
  EXPECT_EQ(off.status, 503);
  EXPECT_NE(off.body.find("Failsafe mode is disabled"), std::string::npos) << off.body;
  backend.snap.failsafe_mode = true;
  auto unwritten = call(router, request("GET", "/failsafe"));
  EXPECT_EQ(unwritten.status, 503);
  EXPECT_NE(unwritten.body.find("not written"), std::string::npos) << unwritten.body;
  backend.snap.failsafe =
      json{{"node1", "http://127.0.0.1:8008"}, {"node2", "http://127.0.0.1:8009"}};
  auto on = call(router, request("GET", "/failsafe"));
  EXPECT_EQ(on.status, 200);
  EXPECT_EQ(json::parse(on.body), *backend.snap.failsafe);
  auto del = call(router, request("DELETE", "/failsafe"));
  EXPECT_EQ(del.status, 405);
}

}  // namespace
}  // namespace keel::api
