#include "proxy/route_table.h"

#include <gtest/gtest.h>

#include <map>

namespace keel::proxy {
namespace {

RouteTarget replica(std::string name, std::uint64_t lag, std::optional<std::int64_t> delay = 0,
                    bool noloadbalance = false) {
  return RouteTarget{.member = name,
                     .host = "10.0.0." + std::to_string(name.back() - '0'),
                     .port = 5432,
                     .lag_bytes = lag,
                     .delay_ms = delay,
                     .noloadbalance = noloadbalance};
}

TEST(RouteTable, ReadsGoToTheLeastLoadedQualifyingReplica) {
  ProxyConfig cfg;
  RouteTable t;
  t.leader = RouteTarget{.member = "n1", .host = "10.0.0.1", .port = 5432};
  t.replicas = {replica("n2", 0), replica("n3", 0)};
  std::map<std::string, int> load{{"10.0.0.2:5432", 3}, {"10.0.0.3:5432", 1}};
  auto in_use = [&](const std::string& e) { return load[e]; };
  EXPECT_EQ(chooseReadTarget(t, cfg, in_use)->member, "n3");
  load["10.0.0.3:5432"] = 3;
  EXPECT_EQ(chooseReadTarget(t, cfg, in_use)->member, "n2") << "ties go by name";
}

TEST(RouteTable, LaggingAndNoloadbalanceReplicasAreSkipped) {
  ProxyConfig cfg;
  cfg.max_lag_bytes = 1000;
  cfg.max_lag_time = std::chrono::milliseconds(500);
  RouteTable t;
  t.leader = RouteTarget{.member = "n1", .host = "10.0.0.1", .port = 5432};
  auto none = [](const std::string&) { return 0; };
  t.replicas = {replica("n2", 1001), replica("n3", 0, 501), replica("n4", 0, 0, true)};
  EXPECT_EQ(chooseReadTarget(t, cfg, none)->member, "n1") << "falls back to the leader";
  cfg.ro_fallback_to_primary = false;
  EXPECT_FALSE(chooseReadTarget(t, cfg, none));
  t.replicas.push_back(replica("n5", 1000, std::nullopt));
  EXPECT_EQ(chooseReadTarget(t, cfg, none)->member, "n5") << "unknown delay does not disqualify";
}

TEST(RouteTable, BoardPublishesOnlyChanges) {
  RouteBoard board;
  EXPECT_FALSE(board.current()->known);
  RouteTable t;
  t.known = true;
  t.leader = RouteTarget{.member = "n1", .host = "h", .port = 1};
  auto first = board.publish(t);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->generation, 1u);
  EXPECT_FALSE(board.publish(t)) << "same routes: nothing published";
  t.leader->member = "n2";
  auto second = board.publish(t);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->generation, 2u);
  EXPECT_EQ(board.current()->leader->member, "n2");
  EXPECT_EQ((RouteTarget{.member = "x", .host = "::1", .port = 6}).endpoint(), "[::1]:6");
}

}  // namespace
}  // namespace keel::proxy
