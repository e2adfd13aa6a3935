#include <gtest/gtest.h>

#include <functional>

#include "api/handlers.h"
#include "api/router.h"
#include "fake_backend.h"

namespace keel::api {
namespace {

using namespace testing;

struct Row {
  const char* role;  // which snapshot
  const char* target;
  int status;
};

NodeSnapshot snapshotFor(const std::string& role) {
  if (role == "leader") {
    return leaderSnapshot();
  }
  if (role == "replica") {
    return replicaSnapshot(0);
  }
  if (role == "lagging") {
    return replicaSnapshot(32ull << 20);  // 32 MiB behind
  }
  if (role == "lag-unknown") {
    return replicaSnapshot(std::nullopt);
  }
  if (role == "stopped") {
    return stoppedSnapshot();
  }
  if (role == "paused-leader") {
    auto s = leaderSnapshot();
    s.paused = true;
    return s;
  }
  if (role == "noloadbalance") {
    auto s = replicaSnapshot(0);
    s.noloadbalance = true;
    s.self.tags = {{"noloadbalance", true}};
    return s;
  }
  if (role == "tagged") {
    auto s = replicaSnapshot(0);
    s.self.tags = {{"zone", "East"}, {"nofailover", true}, {"tag_rack", "r1"}};
    return s;
  }
  if (role == "standby-leader") {
    auto s = leaderSnapshot();
    s.in_recovery = true;
    s.writable = false;
    return s;
  }
  if (role == "archive-replica") {
    auto s = replicaSnapshot(0);
    s.self.replication_state = "in archive recovery";
    s.self.state = "running";
    return s;
  }
  if (role == "sync-standby") {
    auto s = replicaSnapshot(0);
    s.sync_standby = true;
    return s;
  }
  if (role == "quorum-standby") {
    auto s = replicaSnapshot(0);
    s.quorum_standby = true;
    return s;
  }
  if (role == "stale-loop") {
    auto s = leaderSnapshot();
    s.last_loop_epoch = kNow - 31;
    return s;
  }
  ADD_FAILURE() << "unknown role " << role;
  return {};
}

class HealthTable : public ::testing::TestWithParam<Row> {};

TEST_P(HealthTable, AnswersLikePatroni) {
  const Row& row = GetParam();
  FakeBackend backend;
  backend.snap = snapshotFor(row.role);
  Router router(backend, std::nullopt, [] { return kNow; });
  for (const char* method : {"GET", "HEAD", "OPTIONS"}) {
    auto r = call(router, request(method, row.target));
    EXPECT_EQ(r.status, row.status)
        << method << " " << row.target << " as " << row.role << ": " << r.body;
    if (std::string(method) == "GET" && r.status != 400) {
      EXPECT_FALSE(nlohmann::json::parse(r.body).is_discarded());
    } else if (r.status != 400) {
      EXPECT_TRUE(r.body.empty()) << method;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Endpoints, HealthTable,
    ::testing::Values(
        // primary checks
        Row{"leader", "/", 200}, Row{"leader", "/primary", 200}, Row{"leader", "/master", 200},
        Row{"leader", "/read-write", 200}, Row{"replica", "/", 503},
        Row{"replica", "/primary", 503}, Row{"stopped", "/read-write", 503},
        Row{"paused-leader", "/primary", 200}, Row{"standby-leader", "/primary", 503},
        // leader checks
        Row{"leader", "/leader", 200}, Row{"standby-leader", "/leader", 200},
        Row{"replica", "/leader", 503}, Row{"standby-leader", "/standby-leader", 200},
        Row{"leader", "/standby-leader", 503}, Row{"replica", "/standby-leader", 503},
        // replica checks
        Row{"replica", "/replica", 200}, Row{"leader", "/replica", 503},
        Row{"stopped", "/replica", 503}, Row{"noloadbalance", "/replica", 503},
        Row{"lagging", "/replica", 200}, Row{"lagging", "/replica?lag=1MB", 503},
        Row{"lagging", "/replica?lag=64MB", 200}, Row{"lagging", "/replica?lag=16kB", 503},
        Row{"lagging", "/replica?lag=33554432", 200}, Row{"lagging", "/replica?lag=33554431", 503},
        Row{"lag-unknown", "/replica", 200}, Row{"lag-unknown", "/replica?lag=1GB", 503},
        Row{"replica", "/replica?lag=1048576", 200}, Row{"replica", "/replica?lag=abc", 400},
        Row{"replica", "/replica?lag=-1", 400}, Row{"replica", "/replica?lag=1PB", 400},
        Row{"replica", "/replica?replication_state=streaming", 200},
        Row{"archive-replica", "/replica?replication_state=streaming", 503},
        // tag filters: Patroni's tag_<name>, a bare name, case-insensitive values, booleans
        Row{"tagged", "/replica?tag_zone=east", 200}, Row{"tagged", "/replica?zone=EAST", 200},
        Row{"tagged", "/replica?tag_zone=west", 503},
        Row{"tagged", "/replica?tag_nofailover=true", 200},
        Row{"tagged", "/replica?tag_nofailover=false", 503},
        Row{"tagged", "/replica?tag_rack=r1", 200}, Row{"tagged", "/replica?tag_missing=x", 503},
        Row{"replica", "/replica?tag_zone=east", 503},
        // read-only
        Row{"leader", "/read-only", 200}, Row{"replica", "/read-only", 200},
        Row{"stopped", "/read-only", 503}, Row{"lagging", "/read-only?lag=1MB", 503},
        Row{"leader", "/read-only?lag=1MB", 200}, Row{"noloadbalance", "/read-only", 503},
        // health, liveness, readiness
        Row{"leader", "/health", 200}, Row{"replica", "/health", 200},
        Row{"stopped", "/health", 503}, Row{"leader", "/liveness", 200},
        Row{"stopped", "/liveness", 200}, Row{"stale-loop", "/liveness", 503},
        Row{"leader", "/readiness", 200}, Row{"standby-leader", "/readiness", 503},
        Row{"replica", "/readiness", 200}, Row{"replica", "/readiness?lag=1MB&mode=apply", 200},
        Row{"lagging", "/readiness?lag=1MB", 503}, Row{"lagging", "/readiness", 200},
        Row{"archive-replica", "/readiness", 503}, Row{"stopped", "/readiness", 503},
        Row{"replica", "/readiness?mode=write", 200}, Row{"replica", "/readiness?mode=fast", 400},
        // synchronous replication: the sync key names sync (on) or quorum standbys
        Row{"sync-standby", "/sync", 200}, Row{"sync-standby", "/synchronous", 200},
        Row{"replica", "/sync", 503}, Row{"leader", "/sync", 503},
        Row{"sync-standby", "/async", 503}, Row{"replica", "/async", 200},
        Row{"replica", "/asynchronous", 200}, Row{"leader", "/async", 503},
        Row{"quorum-standby", "/async", 503}, Row{"quorum-standby", "/quorum", 200},
        Row{"quorum-standby", "/sync", 503}, Row{"sync-standby", "/quorum", 503},
        Row{"sync-standby", "/read-only-sync", 200}, Row{"leader", "/read-only-sync", 200},
        Row{"replica", "/read-only-sync", 503}, Row{"quorum-standby", "/read-only-quorum", 200},
        Row{"leader", "/read-only-quorum", 200}, Row{"replica", "/read-only-quorum", 503},
        Row{"standby-leader", "/read-only-sync", 503},
        // trailing slash tolerated
        Row{"leader", "/primary/", 200}));

TEST(ByteSize, ParsesPostgresUnits) {
  using detail::parseByteSize;
  EXPECT_EQ(parseByteSize("1048576"), 1048576u);
  EXPECT_EQ(parseByteSize("16kB"), 16u * 1024);
  EXPECT_EQ(parseByteSize("1MB"), 1u << 20);
  EXPECT_EQ(parseByteSize("1mb"), 1u << 20);
  EXPECT_EQ(parseByteSize("1GB"), 1u << 30);
  EXPECT_EQ(parseByteSize("2TB"), 2ull << 40);
  EXPECT_EQ(parseByteSize("0"), 0u);
  EXPECT_FALSE(parseByteSize("abc"));
  EXPECT_FALSE(parseByteSize(""));
  EXPECT_FALSE(parseByteSize("MB"));
  EXPECT_FALSE(parseByteSize("1.5MB"));
  EXPECT_FALSE(parseByteSize("-1"));
  EXPECT_FALSE(parseByteSize("99999999999999999999"));
  EXPECT_FALSE(parseByteSize("9999999999999999TB"));
}

TEST(Health, BadLagSaysWhatIsExpected) {
  FakeBackend backend;
  backend.snap = replicaSnapshot(0);
  Router router(backend, std::nullopt, [] { return kNow; });
  auto r = call(router, request("GET", "/replica?lag=abc"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("lag=\"abc\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("1MB"), std::string::npos) << r.body;
}

TEST(Health, WrongMethodIs405WithAllow) {
  FakeBackend backend;
  backend.snap = leaderSnapshot();
  Router router(backend, std::nullopt, [] { return kNow; });
  auto r = call(router, request("POST", "/primary"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD, OPTIONS");
}

TEST(Health, BodyIsThePatroniDocument) {
  FakeBackend backend;
  backend.snap = replicaSnapshot(5);
  Router router(backend, std::nullopt, [] { return kNow; });
  auto r = call(router, request("GET", "/replica"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["role"], "replica");
  EXPECT_EQ(j["patroni"]["name"], "node2");
}

}  // namespace
}  // namespace keel::api
