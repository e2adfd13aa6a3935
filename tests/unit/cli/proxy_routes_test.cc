#include "cli/proxy_routes.h"

#include <gtest/gtest.h>

namespace keel::cli {
namespace {

ha::MemberRecord member(std::string name, std::string role, std::string state, std::uint16_t port,
                        std::uint64_t wal) {
  ha::MemberRecord m;
  m.name = name;
  m.role = role;
  m.state = state;
  m.host = "127.0.0.1";
  m.port = port;
  m.wal_position = WalPosition{wal};
  m.proxy = "127.0.0.1:" + std::to_string(port + 1000);
  return m;
}

TEST(ProxyRoutes, LeaderReplicasLagAndPeers) {
  ha::ClusterView view;
  view.leader = ha::LeaderRecord{.name = "n1"};
  view.members["n1"] = member("n1", "primary", "running", 5001, 1000);
  auto n2 = member("n2", "replica", "streaming", 5002, 1000);
  n2.replay_position = WalPosition{400};
  n2.replay_delay_ms = 1500;
  view.members["n2"] = n2;
  view.members["n3"] = member("n3", "replica", "running", 5003, 900);
  view.members["n4"] = member("n4", "replica", "stopped", 5004, 0);
  auto table = routesFromView(view, "n2");
  ASSERT_TRUE(table.known);
  ASSERT_TRUE(table.leader);
  EXPECT_EQ(table.leader->member, "n1");
  EXPECT_EQ(table.leader->endpoint(), "127.0.0.1:5001");
  ASSERT_EQ(table.replicas.size(), 2u) << "stopped members are not routed to";
  EXPECT_EQ(table.replicas[0].member, "n2");
  EXPECT_EQ(table.replicas[0].lag_bytes, 600u) << "replay position, not receive position";
  EXPECT_EQ(table.replicas[0].delay_ms, 1500);
  EXPECT_EQ(table.replicas[1].lag_bytes, 100u);
  EXPECT_EQ(table.peer_proxies,
            (std::vector<std::string>{"127.0.0.1:6001", "127.0.0.1:6003", "127.0.0.1:6004"}));
}

TEST(ProxyRoutes, NoWritableLeaderWhileItIsNotRunningAsPrimary) {
  ha::ClusterView view;
  view.members["n1"] = member("n1", "replica", "running", 5001, 1000);
  EXPECT_FALSE(routesFromView(view, "n1").leader) << "no leader key";
  view.leader = ha::LeaderRecord{.name = "n1"};
  EXPECT_FALSE(routesFromView(view, "n1").leader) << "lock holder not promoted yet";
  view.members["n1"].role = "primary";
  view.members["n1"].state = "starting";
  EXPECT_FALSE(routesFromView(view, "n1").leader);
  view.members["n1"].state = "running";
  EXPECT_TRUE(routesFromView(view, "n1").leader);
}

TEST(ProxyRoutes, ReadWriteIsPausedWhileTheLeaderDrainsForASwitchover) {
  ha::ClusterView view;
  view.leader = ha::LeaderRecord{.name = "n1"};
  view.members["n1"] = member("n1", "primary", "running", 5001, 1000);
  view.members["n2"] = member("n2", "replica", "streaming", 5002, 1000);
  view.failover = ha::FailoverRequest{.leader = "n1", .candidate = "n2"};
  EXPECT_FALSE(routesFromView(view, "n2").rw_paused) << "requested, not yet paused";
  view.failover->paused_at = 42.0;
  auto paused = routesFromView(view, "n2");
  EXPECT_TRUE(paused.rw_paused);
  EXPECT_TRUE(paused.leader) << "the leader is still known, only not lent";
  ha::ClusterView unpaused = view;
  unpaused.failover->paused_at = 0;
  EXPECT_FALSE(paused.sameRoutes(routesFromView(unpaused, "n2")))
      << "a pause alone is a change the proxy must publish";
  // Once the old leader let go of the lock, the pause is over: there is no leader to wait on
  // (routes hold as in any failover) and then the new one.
  view.leader = ha::LeaderRecord{.name = "n2"};
  EXPECT_FALSE(routesFromView(view, "n2").rw_paused);
  view.leader.reset();
  EXPECT_FALSE(routesFromView(view, "n2").rw_paused);
}

}  // namespace
}  // namespace keel::cli
