#include <gtest/gtest.h>

#include "api/router.h"
#include "fake_backend.h"

namespace keel::api {
namespace {

using namespace testing;
using nlohmann::json;

class StateTest : public ::testing::Test {
 protected:
  FakeBackend backend;
  Router router{backend, std::nullopt, [] { return kNow; }};

  json getJson(std::string_view target, int want_status = 200) {
    auto r = call(router, request("GET", target));
    EXPECT_EQ(r.status, want_status) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << target;
    return json::parse(r.body);
  }
};

TEST_F(StateTest, PatroniOnTheLeader) {
  backend.snap = leaderSnapshot();
  backend.snap.self.tags = {{"nofailover", false}};
  backend.snap.self.pending_restart = true;
  json j = getJson("/patroni");
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["role"], "primary");
  EXPECT_EQ(j["xlog"], json({{"location", 0x3000060}}));
  EXPECT_EQ(j["timeline"], 3);
  EXPECT_EQ(j["patroni"], json({{"version", "0.1.0"}, {"scope", "demo"}, {"name", "node1"}}));
  EXPECT_EQ(j["tags"], json({{"nofailover", false}}));
  EXPECT_EQ(j["pending_restart"], true);
  EXPECT_FALSE(j.contains("pause"));
  EXPECT_FALSE(j.contains("cluster_unlocked"));
  // "2023-11-14 22:11:40.000+00:00", as Patroni prints postmaster_start_time
  std::string start = j["postmaster_start_time"];
  EXPECT_EQ(start.size(), 29u) << start;
  EXPECT_EQ(start.substr(start.size() - 6), "+00:00");
  EXPECT_EQ(start[10], ' ');
}

TEST_F(StateTest, PatroniOnAReplica) {
  backend.snap = replicaSnapshot(0);
  backend.snap.paused = true;
  json j = getJson("/patroni");
  EXPECT_EQ(j["role"], "replica");
  EXPECT_EQ(j["state"], "streaming");
  EXPECT_EQ(j["replication_state"], "streaming");
  EXPECT_EQ(j["xlog"]["received_location"], 0x3000060);
  EXPECT_EQ(j["xlog"]["replayed_location"], 0x3000060);
  EXPECT_FALSE(j["xlog"].contains("location"));
  EXPECT_EQ(j["pause"], true);
  EXPECT_FALSE(j.contains("tags"));
}

TEST_F(StateTest, PatroniReplicaPositionsSeparately) {
  backend.snap = replicaSnapshot(0);
  backend.snap.self.received_position = "0/4000000";
  backend.snap.self.replayed_position = "0/3800000";
  json j = getJson("/patroni");
  EXPECT_EQ(j["xlog"], json({{"received_location", 0x4000000}, {"replayed_location", 0x3800000}}));
}

TEST_F(StateTest, PatroniWhenStoppedAndLeaderless) {
  backend.snap = stoppedSnapshot();
  backend.snap.leader.reset();
  json j = getJson("/patroni");
  EXPECT_EQ(j["state"], "stopped");
  EXPECT_FALSE(j.contains("xlog"));
  EXPECT_FALSE(j.contains("postmaster_start_time"));
  EXPECT_EQ(j["cluster_unlocked"], true);
}

TEST_F(StateTest, PatroniReportsDcsTrouble) {
  backend.snap = replicaSnapshot(0);
  backend.snap.dcs_error = "etcd at 127.0.0.1:2379 does not answer";
  json j = getJson("/patroni");
  EXPECT_EQ(j["dcs_error"], "etcd at 127.0.0.1:2379 does not answer");
}

TEST_F(StateTest, ClusterListsMembers) {
  backend.snap = leaderSnapshot();
  backend.snap.paused = true;
  MemberView leader = backend.snap.self;
  MemberView replica = replicaSnapshot(1024).self;
  replica.tags = {{"zone", "b"}};
  MemberView lost = replica;
  lost.name = "node3";
  lost.lag_bytes.reset();
  lost.tags = json::object();
  backend.snap.members = {leader, replica, lost};
  backend.snap.scheduled_switchover =
      json{{"leader", "node1"}, {"candidate", "node2"}, {"scheduled_at", "2030-01-01T00:00:00Z"}};
  json j = getJson("/cluster");
  ASSERT_EQ(j["members"].size(), 3u);
  const json& m0 = j["members"][0];
  EXPECT_EQ(m0["name"], "node1");
  EXPECT_EQ(m0["role"], "leader");
  EXPECT_EQ(m0["state"], "running");
  EXPECT_EQ(m0["host"], "127.0.0.1");
  EXPECT_EQ(m0["port"], 5432);
  EXPECT_EQ(m0["api_url"], "http://127.0.0.1:8008/patroni");
  EXPECT_EQ(m0["timeline"], 3);
  EXPECT_FALSE(m0.contains("lag"));
  EXPECT_EQ(j["members"][1]["lag"], 1024);
  EXPECT_EQ(j["members"][1]["tags"], json({{"zone", "b"}}));
  EXPECT_EQ(j["members"][2]["lag"], "unknown");
  EXPECT_FALSE(j["members"][2].contains("tags"));
  EXPECT_EQ(j["pause"], true);
  EXPECT_EQ(j["scope"], "demo");
  EXPECT_EQ(j["scheduled_switchover"],
            json({{"at", "2030-01-01T00:00:00Z"}, {"from", "node1"}, {"to", "node2"}}));
}

TEST_F(StateTest, ClusterWithoutScheduleOmitsIt) {
  backend.snap = leaderSnapshot();
  backend.snap.scheduled_switchover = json{{"leader", "node1"}};
  json j = getJson("/cluster");
  EXPECT_FALSE(j.contains("scheduled_switchover"));
  EXPECT_FALSE(j.contains("pause"));
  EXPECT_TRUE(j["members"].is_array());
}

TEST_F(StateTest, HistoryIsPatroniArrays) {
  backend.snap = leaderSnapshot();
  backend.snap.history = {
      HistoryEntry{.timeline = 1,
                   .lsn = "0/5000000",
                   .reason = "no recovery target specified",
                   .time = 1700000000.0,
                   .old_leader = "node0",
                   .new_leader = "node1",
                   .kind = "failover"},
      HistoryEntry{.timeline = 2, .lsn = "junk", .reason = "switchover", .time = 1700000100.5}};
  json j = getJson("/history");
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0], json::array({1, 0x5000000, "no recovery target specified",
                               "2023-11-14T22:13:20.000Z", "node1"}));
  EXPECT_EQ(j[1].size(), 4u);
  EXPECT_EQ(j[1][1], "junk");
}

TEST_F(StateTest, ConfigIsTheDynamicConfig) {
  backend.snap = leaderSnapshot();
  backend.snap.dynamic_config = {{"ttl", 30}, {"loop_wait", 10}};
  EXPECT_EQ(getJson("/config"), json({{"ttl", 30}, {"loop_wait", 10}}));
}

TEST_F(StateTest, HeadHasNoBody) {
  backend.snap = leaderSnapshot();
  auto r = call(router, request("HEAD", "/patroni"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(StateTest, UnknownPathIs404Json) {
  backend.snap = leaderSnapshot();
  json j = getJson("/nope", 404);
  EXPECT_NE(j["error"].get<std::string>().find("/nope"), std::string::npos);
  getJson("/citus", 404);
}

TEST_F(StateTest, WrongMethodIs405WithAllow) {
  backend.snap = leaderSnapshot();
  auto r = call(router, request("POST", "/patroni"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD, OPTIONS");
  r = call(router, request("GET", "/switchover"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "POST, DELETE, OPTIONS");
  r = call(router, request("DELETE", "/config"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD, OPTIONS, PATCH, PUT");
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(StateTest, OptionsListsMethods) {
  auto r = call(router, request("OPTIONS", "/switchover"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers["Allow"], "POST, DELETE, OPTIONS");
}

TEST(HttpMessage, ParseTargetDecodes) {
  auto [path, query] = parseTarget("/replica%2Fx?lag=1MB&tag_zone=a+b&flag&x=%41%zz#frag");
  EXPECT_EQ(path, "/replica/x");
  EXPECT_EQ(query["lag"], "1MB");
  EXPECT_EQ(query["tag_zone"], "a b");
  EXPECT_EQ(query["flag"], "");
  EXPECT_EQ(query["x"], "A%zz");
  EXPECT_EQ(parseTarget("").first, "/");
  EXPECT_EQ(parseTarget("?a=1").first, "/");
}

}  // namespace
}  // namespace keel::api
