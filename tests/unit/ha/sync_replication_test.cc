#include "ha/sync_replication.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "unit/ha/scenario.h"

namespace keel::ha {
namespace {

using ::testing::HasSubstr;
using namespace keel::ha::testing;

SyncState key(const std::string& leader, std::vector<std::string> voters, int quorum) {
  return SyncState{.leader = leader, .voters = std::move(voters), .quorum = quorum};
}

ClusterView threeMembers() {
  ClusterView v;
  v.initialize = std::to_string(kSysid);
  v.members["a"] = primaryRecord("a", 1000);
  v.members["b"] = replicaRecord("b", 1000, "a");
  v.members["c"] = replicaRecord("c", 1000, "a");
  return v;
}

std::vector<ReplicationRow> streaming(std::map<std::string, std::uint64_t> flushed) {
  std::vector<ReplicationRow> rows;
  for (const auto& [name, lsn] : flushed)
    rows.push_back({name, "streaming", wal(lsn)});
  return rows;
}

TEST(SyncStateTest, JsonRoundTripAndPatroniShape) {
  SyncState s = key("a", {"b", "c"}, 1);
  auto j = s.toJson();
  EXPECT_EQ(j["sync_standby"], "b,c");
  auto back = SyncState::fromJson(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  // Patroni writes no quorum: every listed standby holds every commit.
  auto patroni = SyncState::fromJson(nlohmann::json{{"leader", "a"}, {"sync_standby", "c,b"}});
  ASSERT_TRUE(patroni);
  EXPECT_EQ(*patroni, key("a", {"b", "c"}, 2));
  auto none = SyncState::fromJson(nlohmann::json{{"leader", "a"}, {"sync_standby", nullptr}});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, key("a", {}, 0));
  EXPECT_FALSE(SyncState::fromJson(nlohmann::json{{"sync_standby", "b"}}));
  EXPECT_FALSE(
      SyncState::fromJson(nlohmann::json{{"leader", "a"}, {"sync_standby", "b"}, {"quorum", 2}}));
  EXPECT_FALSE(SyncState::fromJson(nlohmann::json::array()));
}

TEST(SyncStateTest, AGarbledKeyBlocksEveryPromotion) {
  std::vector<RawKey> kvs{{"/keel/x/sync", "{not json", 5, 0}};
  std::vector<std::string> problems;
  ClusterView v = decodeClusterView("/keel/x/", kvs, 5, &problems);
  EXPECT_TRUE(v.sync_unreadable);
  EXPECT_EQ(problems.size(), 1u);
  kvs[0].value = R"({"sync_standby": "b"})";
  problems.clear();
  v = decodeClusterView("/keel/x/", kvs, 5, &problems);
  EXPECT_TRUE(v.sync_unreadable);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("not a sync record"));
  auto blocker = syncPromotionBlocker(v, "b", wal(10), {});
  ASSERT_TRUE(blocker);
  EXPECT_THAT(*blocker, HasSubstr("cannot be read"));
}

TEST(SyncTargetTest, StandbyNamesSyntax) {
  SyncTarget t{.kind = SyncTarget::Kind::sync, .voters = {"b", "c\"x"}, .quorum = 2};
  EXPECT_EQ(t.standbyNames(), "FIRST 2 (\"b\",\"c\"\"x\")");
  t.first = false;
  t.quorum = 1;
  EXPECT_EQ(t.standbyNames(), "ANY 1 (\"b\",\"c\"\"x\")");
  EXPECT_EQ(SyncTarget{}.standbyNames(), "");
  EXPECT_EQ(SyncTarget{.kind = SyncTarget::Kind::blocking}.standbyNames(),
            "FIRST 1 (\"keel:no-standby\")");
}

TEST(SyncTargetTest, ChoosesStreamingEligibleStandbys) {
  ClusterView v = threeMembers();
  std::optional<SyncState> none;
  auto rows = streaming({{"b", 900}, {"c", 950}});
  SyncTargetInput in{
      .settings = {.mode = SyncMode::on}, .self = "a", .view = v, .key = none, .rows = rows};
  SyncTarget t = chooseSyncTarget(in);
  EXPECT_EQ(t.kind, SyncTarget::Kind::sync);
  EXPECT_EQ(t.voters, std::vector<std::string>{"c"});  // furthest ahead
  EXPECT_EQ(t.quorum, 1);

  // The current voter stays while it streams (no churn).
  std::optional<SyncState> current = key("a", {"b"}, 1);
  in.key = current;
  EXPECT_EQ(chooseSyncTarget(in).voters, std::vector<std::string>{"b"});

  // A stalled current voter (its link cut: the walsender still says streaming) is replaced.
  in.stalled = {"b"};
  EXPECT_EQ(chooseSyncTarget(in).voters, std::vector<std::string>{"c"});
  in.stalled.clear();

  // nosync and nofailover members are never chosen.
  v.members["c"].nosync = true;
  v.members["b"].nofailover = true;
  in.key = none;
  EXPECT_EQ(chooseSyncTarget(in).kind, SyncTarget::Kind::async);
  in.settings.strict = true;
  EXPECT_EQ(chooseSyncTarget(in).kind, SyncTarget::Kind::blocking);
  in.key = current;  // strict keeps waiting for the current voter
  t = chooseSyncTarget(in);
  EXPECT_EQ(t.kind, SyncTarget::Kind::sync);
  EXPECT_EQ(t.voters, std::vector<std::string>{"b"});
}

TEST(SyncTargetTest, QuorumListsEveryCandidate) {
  ClusterView v = threeMembers();
  v.members["d"] = replicaRecord("d", 1000, "a");
  std::optional<SyncState> none;
  auto rows = streaming({{"b", 900}, {"c", 950}, {"d", 10}});
  SyncTargetInput in{.settings = {.mode = SyncMode::quorum, .node_count = 2},
                     .self = "a",
                     .view = v,
                     .key = none,
                     .rows = rows};
  SyncTarget t = chooseSyncTarget(in);
  EXPECT_EQ(t.voters, (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(t.quorum, 2);
  EXPECT_EQ(t.standbyNames(), "ANY 2 (\"b\",\"c\",\"d\")");
  // Fewer candidates than synchronous_node_count: all of them.
  auto one = streaming({{"b", 900}});
  in.rows = one;
  t = chooseSyncTarget(in);
  EXPECT_EQ(t.voters, std::vector<std::string>{"b"});
  EXPECT_EQ(t.quorum, 1);
}

TEST(SyncTargetTest, PromotionGraceCountsReplicasAboutToStream) {
  ClusterView v = threeMembers();
  std::optional<SyncState> none;
  std::vector<ReplicationRow> rows;
  SyncTargetInput in{.settings = {.mode = SyncMode::on},
                     .self = "a",
                     .view = v,
                     .key = none,
                     .rows = rows,
                     .promotion_grace = true};
  SyncTarget t = chooseSyncTarget(in);
  EXPECT_EQ(t.kind, SyncTarget::Kind::sync);
  EXPECT_EQ(t.voters.size(), 1u);
  in.promotion_grace = false;
  EXPECT_EQ(chooseSyncTarget(in).kind, SyncTarget::Kind::async);
}

TEST(SyncPlanTest, StepsInOrder) {
  std::optional<SyncState> k;  // asynchronous: no key
  SyncTarget to_b{.kind = SyncTarget::Kind::sync, .voters = {"b"}, .quorum = 1};
  auto rows = streaming({{"b", 500}});
  std::string names = "";
  SyncPlanInput in{.self = "a",
                   .key = k,
                   .standby_names = names,
                   .target = to_b,
                   .rows = rows,
                   .settled_position = std::nullopt};
  // From asynchronous: the setting first (no key is true under both).
  SyncStep s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::set_standbys);
  EXPECT_EQ(s.standby_names, to_b.standbyNames());
  in.standby_names = s.standby_names;
  // Then the key, only once b flushed past a position read after the change settled.
  s = planSync(in);
  EXPECT_EQ(s.kind, SyncStep::Kind::none);
  EXPECT_THAT(s.reason, HasSubstr("take effect"));
  in.settled_position = wal(600);
  s = planSync(in);
  EXPECT_EQ(s.kind, SyncStep::Kind::none);
  EXPECT_THAT(s.reason, HasSubstr("flush WAL up to 0/258"));
  auto caught_up = streaming({{"b", 600}});
  in.rows = caught_up;
  s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::write_key);
  EXPECT_EQ(*s.key, key("a", {"b"}, 1));
  in.key = s.key;
  EXPECT_EQ(planSync(in).kind, SyncStep::Kind::none);

  // b -> c: first a key true for both (b or c), then the setting, then c alone.
  SyncTarget to_c{.kind = SyncTarget::Kind::sync, .voters = {"c"}, .quorum = 1};
  in.target = to_c;
  s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::write_key);
  EXPECT_EQ(*s.key, key("a", {"b", "c"}, 1));
  in.key = s.key;
  s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::set_standbys);

  // To asynchronous: the key goes first.
  SyncTarget async;
  in.target = async;
  s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::write_key);
  EXPECT_FALSE(s.key);

  // A key naming another leader is replaced first, whatever the target.
  std::optional<SyncState> foreign = key("z", {"a"}, 1);
  in.key = foreign;
  s = planSync(in);
  ASSERT_EQ(s.kind, SyncStep::Kind::write_key);
  EXPECT_EQ(*s.key, key("a", {}, 0));
}

TEST(SyncPlanTest, KeyAtPromotion) {
  // A voter of "all hold every commit" (on mode) inherits the other voters.
  EXPECT_EQ(keyAtPromotion("b", key("a", {"b", "c"}, 2), SyncMode::on, false), key("b", {"c"}, 1));
  // Quorum 1 of {b, c}: b may be the only one holding a commit, so nobody else is vouched for.
  EXPECT_EQ(keyAtPromotion("b", key("a", {"b", "c"}, 1), SyncMode::quorum, false), key("b", {}, 0));
  // A switchover candidate outside the key: the old voters still hold the old commits.
  EXPECT_EQ(keyAtPromotion("d", key("a", {"b", "c"}, 1), SyncMode::quorum, false),
            key("d", {"b", "c"}, 1));
  EXPECT_EQ(keyAtPromotion("a", key("a", {"b"}, 1), SyncMode::on, false), key("a", {"b"}, 1));
  EXPECT_FALSE(keyAtPromotion("b", std::nullopt, SyncMode::on, false));
  EXPECT_EQ(keyAtPromotion("b", std::nullopt, SyncMode::on, true), key("b", {}, 0));
  EXPECT_FALSE(keyAtPromotion("b", std::nullopt, SyncMode::off, true));
}

TEST(SyncPromotionTest, OnlyVotersThatSeeEnoughMayPromote) {
  ClusterView v = threeMembers();
  v.members["d"] = replicaRecord("d", 1000, "a");
  v.leader.reset();
  EXPECT_FALSE(syncPromotionBlocker(v, "b", wal(10), {}));  // no key: no restriction

  v.sync = key("a", {"b", "c"}, 2);  // on mode: any voter
  EXPECT_FALSE(syncPromotionBlocker(v, "b", wal(10), {}));
  auto d = syncPromotionBlocker(v, "d", wal(99), {});
  ASSERT_TRUE(d);
  EXPECT_THAT(*d, HasSubstr("only a or its synchronous standbys (b, c)"));
  EXPECT_FALSE(syncPromotionBlocker(v, "a", wal(10), {}));  // the key's own leader
  // A voter with more WAL wins over another voter.
  auto behind = syncPromotionBlocker(v, "b", wal(10), {peer("c", 20)});
  ASSERT_TRUE(behind);
  EXPECT_THAT(*behind, HasSubstr("synchronous standby c has a higher WAL position"));
  // ...but a non-voter's extra WAL was never acknowledged: it does not count.
  EXPECT_FALSE(syncPromotionBlocker(v, "b", wal(10), {peer("d", 99)}));

  // Quorum 1 of {b, c, d}: a voter must see 3 - 1 + 1 = 3 voters, itself included.
  v.sync = key("a", {"b", "c", "d"}, 1);
  auto blind = syncPromotionBlocker(v, "b", wal(10), {peer("c", 10)});
  ASSERT_TRUE(blind);
  EXPECT_THAT(*blind, HasSubstr("sees 2 of the 3"));
  EXPECT_FALSE(syncPromotionBlocker(v, "b", wal(10), {peer("c", 10), peer("d", 5)}));
  auto unreachable = syncPromotionBlocker(v, "b", wal(10), {peer("c", 10), peer("d", 5, false)});
  EXPECT_TRUE(unreachable);

  v.sync = key("a", {}, 0);  // strict, nobody yet: only the leader
  EXPECT_TRUE(syncPromotionBlocker(v, "b", wal(10), {}));
}

TEST(SyncPromotionTest, ElectionUnderASyncKey) {
  // Leader a is gone; b is its synchronous standby; c (asynchronous) received more WAL, which
  // was never acknowledged. b takes the lock; c, far ahead or not, does not.
  auto setup = [](Scenario& s, const std::string& self) {
    s.view.leader.reset();
    s.view.sync = key("a", {"b"}, 1);
    s.view.last_leader_position = wal(100 * kMiB);  // far beyond maximum_lag: not a bound here
    s.member(replicaRecord("b", 1000)).member(replicaRecord("c", 2000));
    s.local.name = self;
    s.local.wal_position = wal(self == "b" ? 1000 : 2000);
    s.peers = {self == "b" ? peer("c", 2000) : peer("b", 1000)};
  };
  Scenario b;
  setup(b, "b");
  Decision d = b.decide();
  EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
  Scenario c;
  setup(c, "c");
  d = c.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("synchronous standbys (b)"));
  // A manual failover to c is not honoured either.
  c.view.failover = FailoverRequest{.candidate = "c", .requested_at = kEpoch};
  d = c.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("chosen as failover candidate, but"));
  // A switchover to c is (it replays the stopped leader's last WAL first).
  c.view.failover->leader = "a";
  EXPECT_EQ(c.decide().action, Action::acquire_leader);
}

// The invariant under random changes: whenever the sync key exists, every commit the primary
// acknowledged is flushed on at least `quorum` of its voters. The primary acknowledges a
// commit under whatever synchronous_standby_names is in force at that moment, as PostgreSQL
// does; standbys flush at random, some stop; targets change at random; the leader follows
// planSync one step at a time.
TEST(SyncPlanTest, RandomChangesNeverBreakTheInvariant) {
  const std::vector<std::string> standbys{"b", "c", "d"};
  for (unsigned seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    std::optional<SyncState> k;
    SyncTarget in_force;  // synchronous_standby_names: asynchronous at first
    std::uint64_t position = 0;
    std::map<std::string, std::uint64_t> flushed{{"b", 0}, {"c", 0}, {"d", 0}};
    std::map<std::string, bool> connected{{"b", true}, {"c", true}, {"d", true}};
    std::vector<std::uint64_t> pending, acked;
    int since_change = 0;
    SyncTarget target;
    for (int tick = 0; tick < 400; ++tick) {
      // The world moves.
      if (chance(40))
        pending.push_back(++position);
      for (const auto& s : standbys) {
        if (chance(5))
          connected[s] = !connected[s];
        if (connected[s] && chance(50))
          flushed[s] = std::min(position, flushed[s] + 1 + rng() % 3);
      }
      // PostgreSQL acknowledges what the setting in force allows.
      std::vector<std::uint64_t> still;
      for (auto p : pending) {
        bool ok = false;
        if (in_force.kind == SyncTarget::Kind::async) {
          ok = true;
        } else if (in_force.kind == SyncTarget::Kind::sync) {
          int have = 0;
          for (const auto& v : in_force.voters)
            have += flushed[v] >= p;
          ok = have >= in_force.quorum;
        }
        (ok ? acked : still).push_back(p);
      }
      pending = still;
      // The invariant.
      if (k && k->quorum > 0) {
        for (auto p : acked) {
          int have = 0;
          for (const auto& v : k->voters)
            have += flushed[v] >= p;
          ASSERT_GE(have, k->quorum) << "commit " << p << " at tick " << tick;
        }
      }
      // The leader: sometimes a new target, then one step.
      if (chance(10)) {
        std::vector<std::string> pick;
        for (const auto& s : standbys) {
          if (chance(50))
            pick.push_back(s);
        }
        int kind = static_cast<int>(rng() % 4);
        if (pick.empty() || kind == 0) {
          target = chance(50) ? SyncTarget{} : SyncTarget{.kind = SyncTarget::Kind::blocking};
        } else {
          target = SyncTarget{.kind = SyncTarget::Kind::sync,
                              .voters = pick,
                              .quorum = 1 + static_cast<int>(rng() % pick.size()),
                              .first = false};
        }
      }
      std::vector<ReplicationRow> rows;
      for (const auto& s : standbys)
        rows.push_back({s, connected[s] ? "streaming" : "catchup", wal(flushed[s])});
      std::string names = in_force.standbyNames();
      SyncPlanInput in{
          .self = "a",
          .key = k,
          .standby_names = names,
          .target = target,
          .rows = rows,
          .settled_position = since_change >= 1 ? std::optional{wal(position)} : std::nullopt};
      SyncStep step = planSync(in);
      ++since_change;
      if (step.kind == SyncStep::Kind::write_key) {
        k = step.key;
      } else if (step.kind == SyncStep::Kind::set_standbys) {
        ASSERT_EQ(step.standby_names, target.standbyNames());
        in_force = target;
        since_change = 0;
      }
    }
  }
}

}  // namespace
}  // namespace keel::ha
