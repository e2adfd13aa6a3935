#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ha/decision.h"
#include "unit/ha/scenario.h"

namespace keel::ha {
namespace {

using ::testing::HasSubstr;
using namespace keel::ha::testing;

// Local member "a" leads (running primary at WAL 5000); b and c stream from it.
Scenario leaderWithReplicas() {
  Scenario s;
  s.local.name = "a";
  s.local.wal_position = wal(5000);
  s.leaderIs("a").localIsRunningPrimary();
  s.member(primaryRecord("a", 5000))
      .member(replicaRecord("b", 4000, "a"))
      .member(replicaRecord("c", 4900, "a"));
  return s;
}

FailoverRequest switchoverTo(const std::string& candidate, double scheduled_at = 0) {
  return FailoverRequest{.leader = "a",
                         .candidate = candidate,
                         .scheduled_at = scheduled_at,
                         .requested_at = kEpoch - 1,
                         .reason = "switchover requested through the API"};
}

TEST(DecisionSwitchoverTest, ScheduledInTheFutureWaits) {
  Scenario s = leaderWithReplicas();
  s.view.failover = switchoverTo("b", kEpoch + 60);
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none);
  EXPECT_EQ(d.role, Decision::Role::leader);
  EXPECT_THAT(d.reason, HasSubstr("scheduled"));
}

TEST(DecisionSwitchoverTest, DueSwitchoverGoesToTheNamedCandidate) {
  for (double at : {0.0, kEpoch - 1, kEpoch}) {
    Scenario s = leaderWithReplicas();
    s.view.failover = switchoverTo("b", at);
    Decision d = s.decide();
    EXPECT_EQ(d.action, Action::switchover) << d.reason;
    EXPECT_EQ(d.target, "b");
    EXPECT_THAT(d.reason, HasSubstr("switchover requested through the API"));
  }
}

TEST(DecisionSwitchoverTest, WithoutCandidatePicksTheStreamingReplicaWithLowestLag) {
  Scenario s = leaderWithReplicas();
  // d has no lag at all but does not stream: a streaming replica is preferred.
  MemberRecord d_rec = replicaRecord("d", 5000, "a");
  d_rec.replication_state = "stopped";
  d_rec.state = "running";
  s.member(d_rec);
  s.view.failover = switchoverTo("");
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::switchover) << d.reason;
  EXPECT_EQ(d.target, "c");
  EXPECT_EQ(pickSwitchoverCandidate(s.view, "a", kMiB), "c");
}

TEST(DecisionSwitchoverTest, CandidatePickBreaksWalTiesByPriorityThenName) {
  Scenario s = leaderWithReplicas();
  s.member(replicaRecord("b", 4900, "a"));
  EXPECT_EQ(pickSwitchoverCandidate(s.view, "a", kMiB), "b");
  s.view.members["c"].failover_priority = 3;
  EXPECT_EQ(pickSwitchoverCandidate(s.view, "a", kMiB), "c");
}

TEST(DecisionSwitchoverTest, IneligibleCandidatesClearTheRequestNamingWhy) {
  struct Case {
    const char* what;
    void (*setup)(Scenario&);
    const char* reason;
  };
  const Case cases[] = {
      {"nofailover", [](Scenario& s) { s.view.members["b"].nofailover = true; },
       "candidate b is not eligible: tagged nofailover"},
      {"priority 0", [](Scenario& s) { s.view.members["b"].failover_priority = 0; },
       "candidate b is not eligible: failover_priority is 0"},
      {"lagging", [](Scenario& s) { s.view.members["b"].wal_position = wal(0); },
       "exceeds maximum_lag_on_failover"},
      {"stopped",
       [](Scenario& s) {
         s.view.members["b"].role = "uninitialized";
         s.view.members["b"].state = "stopped";
       },
       "is not a running replica"},
      {"unknown member", [](Scenario& s) { s.view.members.erase("b"); },
       "candidate b is not a member of the cluster"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Scenario s = leaderWithReplicas();
    s.maximum_lag = 100;
    s.view.members["b"].wal_position = wal(4950);
    s.view.failover = switchoverTo("b");
    c.setup(s);
    Decision d = s.decide();
    EXPECT_EQ(d.action, Action::clear_failover) << toString(d.action) << ": " << d.reason;
    EXPECT_THAT(d.reason, HasSubstr(c.reason));
  }
}

TEST(DecisionSwitchoverTest, NoEligibleCandidateClearsTheRequestListingEachMember) {
  Scenario s = leaderWithReplicas();
  s.view.members["b"].nofailover = true;
  s.view.members["c"].failover_priority = 0;
  s.view.failover = switchoverTo("");
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::clear_failover);
  EXPECT_THAT(d.reason, HasSubstr("no eligible candidate"));
  EXPECT_THAT(d.reason, HasSubstr("b: tagged nofailover"));
  EXPECT_THAT(d.reason, HasSubstr("c: failover_priority is 0"));
}

TEST(DecisionSwitchoverTest, RequestForAnotherLeaderOrForTheLeaderItselfIsCleared) {
  Scenario s = leaderWithReplicas();
  s.view.failover = switchoverTo("b");
  s.view.failover->leader = "c";
  EXPECT_EQ(s.decide().action, Action::clear_failover);
  EXPECT_THAT(s.decide().reason, HasSubstr("names c as leader"));
  s.view.failover = switchoverTo("a");
  EXPECT_EQ(s.decide().action, Action::clear_failover);
  EXPECT_THAT(s.decide().reason, HasSubstr("already the leader"));
}

// After the old leader released the lock: a failover request names candidate c.
Scenario lockFreeWithCandidate(const std::string& self, double requested_at) {
  Scenario s;
  s.local.name = self;
  s.local.wal_position = wal(self == "b" ? 5000 : 4900);
  s.member(replicaRecord("a", 5000))
      .member(replicaRecord("b", 5000))
      .member(replicaRecord("c", 4900));
  for (const char* p : {"a", "b", "c"}) {
    if (p != self)
      s.peers.push_back(peer(p, s.view.members[p].wal_position.value));
  }
  s.view.failover = FailoverRequest{
      .candidate = "c", .requested_at = requested_at, .reason = "switchover from a to c"};
  return s;
}

TEST(DecisionSwitchoverTest, CandidateTakesTheFreeLock) {
  Scenario s = lockFreeWithCandidate("c", kEpoch - 1);
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("switchover from a to c"));
  s.localIsStopped();
  d = s.decide();
  EXPECT_EQ(d.action, Action::start_standby) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("failover candidate"));
}

TEST(DecisionSwitchoverTest, OthersWaitDuringTheGraceThenElect) {
  Scenario s = lockFreeWithCandidate("b", kEpoch - 1);
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none);
  EXPECT_THAT(d.reason, HasSubstr("waiting for candidate c"));
  // Grace (10 s) over: the candidate may be dead; b has the most WAL.
  s.view.failover->requested_at = kEpoch - 11;
  d = s.decide();
  EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("healthiest"));
  // And a member with less WAL than b still loses the normal election.
  Scenario a = lockFreeWithCandidate("a", kEpoch - 11);
  a.local.wal_position = wal(10);
  a.view.members["a"].wal_position = wal(10);
  d = a.decide();
  EXPECT_EQ(d.action, Action::none);
  EXPECT_THAT(d.reason, HasSubstr("member b has a higher WAL position"));
}

}  // namespace
}  // namespace keel::ha
