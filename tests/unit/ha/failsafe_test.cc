// failsafe_mode: the decision rules (a member keeps its promise to a primary and only members of
// the failsafe key take the lock; a primary the members vouch for is not fenced). The lease
// keeper's side is in lease_keeper_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "ha/failsafe_rules.h"
#include "unit/ha/scenario.h"

namespace keel::ha {
namespace {

using ::testing::HasSubstr;
using namespace keel::ha::testing;
using namespace std::chrono_literals;

// No leader key; a, b, c run as replicas and b (the local member) holds the most WAL.
Scenario leaderless() {
  Scenario s;
  s.view.leader.reset();
  for (auto [name, w] : {std::pair{"a", 100}, {"b", 300}, {"c", 200}}) {
    s.member(replicaRecord(name, w));
    if (std::string(name) != "b")
      s.peers.push_back(peer(name, w));
  }
  s.local.wal_position = wal(300);
  return s;
}

TEST(FailsafeDecisionTest, AMemberKeepsItsPromiseToThePrimaryUntilItRunsOut) {
  Scenario s = leaderless();
  ASSERT_EQ(s.decide().action, Action::acquire_leader) << s.decide().reason;
  s.local.failsafe_holdoff = LocalState::FailsafeHoldoff{"a", kNow + 1ms};
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("leader a asked this member"));
  EXPECT_THAT(d.reason, HasSubstr("1 ms left"));
  s.now = kNow + 1ms;  // the promise ends exactly ttl after the answer
  s.local.last_renewal_sent = s.now - 100ms;
  EXPECT_EQ(s.decide().action, Action::acquire_leader) << s.decide().reason;
}

// A restarted agent does not remember what its previous run promised; HaLoop gives it a promise
// to nobody in particular for ttl from its start (while a failsafe key exists).
TEST(FailsafeDecisionTest, AFreshlyStartedAgentWaitsOutPromisesItMayHaveMade) {
  Scenario s = leaderless();
  s.view.failsafe = std::map<std::string, std::string>{{"a", "x"}, {"b", "y"}, {"c", "z"}};
  s.local.failsafe_holdoff = LocalState::FailsafeHoldoff{"", kNow + 300ms};
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("started less than ttl ago"));
  s.view.failover = FailoverRequest{};
  s.view.failover->candidate = "b";
  s.view.failover->leader = "a";
  s.view.failover->requested_at = kEpoch;
  d = s.decide();
  EXPECT_EQ(d.action, Action::none) << "a handover is no exception to an unknown promise";
}

TEST(FailsafeDecisionTest, OnlyMembersOfTheFailsafeKeyTakeTheLock) {
  Scenario s = leaderless();
  s.view.failsafe = std::map<std::string, std::string>{{"a", "http://a"}, {"c", "http://c"}};
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("not named by the failsafe key (a, c)"));
  (*s.view.failsafe)["b"] = "http://b";
  EXPECT_EQ(s.decide().action, Action::acquire_leader) << s.decide().reason;
  // The adopt-existing-data bootstrap goes through the same rule.
  Scenario boot = leaderless();
  boot.view.initialize.reset();
  boot.view.failsafe = std::map<std::string, std::string>{{"a", "http://a"}};
  d = boot.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("failsafe key"));
}

TEST(FailsafeDecisionTest, FailoverCandidatesKeepThePromiseButAHandoverByThatPrimaryIsTaken) {
  Scenario s = leaderless();
  s.local.failsafe_holdoff = LocalState::FailsafeHoldoff{"a", kNow + 500ms};
  s.view.failover = FailoverRequest{};
  s.view.failover->candidate = "b";
  s.view.failover->requested_at = kEpoch;
  Decision d = s.decide();  // a manual failover (no leader named) to b
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("chosen as failover candidate, but leader a asked"));
  s.view.failover->leader = "a";  // a switchover a itself requested, a not yet stopped
  d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  s.view.failover->final_lsn = "0/3000000";  // a stopped (it writes final_lsn after)
  d = s.decide();
  EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
  s.view.failover->leader = "c";  // somebody else's handover does not release the promise
  d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  s.local.failsafe_holdoff.reset();
  s.view.failsafe = std::map<std::string, std::string>{{"a", "http://a"}};
  d = s.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("not named by the failsafe key"));
}

TEST(FailsafeDecisionTest, APrimaryVouchedForByEveryMemberIsNotFencedUntilTheirWordRunsOut) {
  Scenario s;
  s.localIsRunningPrimary().leaderIs("b");
  s.member(primaryRecord("b", 1000));
  // The lease can no longer be vouched for (renewals failed for ttl - margin).
  s.local.last_renewal_sent = kNow - kTtl;
  Decision d = s.decide();
  ASSERT_EQ(d.action, Action::fence) << d.reason;
  s.local.failsafe_until = kNow + 200ms;
  d = s.decide();
  EXPECT_NE(d.action, Action::fence) << d.reason;
  EXPECT_NE(d.action, Action::demote) << d.reason;
  s.now = kNow + 200ms;
  d = s.decide();
  EXPECT_EQ(d.action, Action::fence) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("failsafe_mode"));

  // The old lease expired in the DCS and took the leader key with it; a new lease is granted.
  // The primary, still vouched for, takes the lock again rather than demoting.
  Scenario again = leaderless();
  again.localIsRunningPrimary();
  again.view.members["b"] = primaryRecord("b", 300);
  again.view.failsafe = std::map<std::string, std::string>{{"a", "x"}, {"b", "y"}, {"c", "z"}};
  again.local.failsafe_until = kNow + 1s;
  d = again.decide();
  EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
  // Between the old lease's end and the new grant it waits, still writable.
  again.local.lease = 0;
  again.local.last_renewal_sent.reset();
  d = again.decide();
  EXPECT_EQ(d.action, Action::none) << d.reason;
  again.local.failsafe_until.reset();
  d = again.decide();
  EXPECT_EQ(d.action, Action::fence) << d.reason;
}

// The member's side: whom it confirms, and for how long it then keeps off the lock.
TEST(FailsafeAnswerTest, ConfirmsOnlyWhatItCanVouchFor) {
  using Kind = FailsafeAnswer::Kind;
  const std::string self = "b", scope = "demo";
  ClusterView base;
  base.leader = LeaderRecord{"a", 7, 3};
  struct Row {
    const char* what;
    nlohmann::json body;
    std::function<void(std::optional<ClusterView>&, FailsafeRequestInput&)> setup;
    Kind kind;
    std::string message;
  };
  auto none = [](std::optional<ClusterView>&, FailsafeRequestInput&) {};
  const std::vector<Row> rows = {
      {"a plain Patroni request", {{"name", "a"}}, none, Kind::accept, "Accepted"},
      {"Keel's request for this member",
       {{"name", "a"}, {"member", "b"}, {"scope", "demo"}, {"ttl_ms", 2000}},
       none,
       Kind::accept,
       "Accepted"},
      {"no name", {{"member", "b"}}, none, Kind::bad_request, "\"name\""},
      {"not an object", nlohmann::json::array({1}), none, Kind::bad_request, "\"name\""},
      {"failsafe_mode off here",
       {{"name", "a"}},
       [](auto&, auto& in) { in.failsafe_mode = false; },
       Kind::disabled,
       "Failsafe mode is disabled on b"},
      {"no view read yet",
       {{"name", "a"}},
       [](auto& v, auto&) { v.reset(); },
       Kind::disabled,
       "disabled"},
      {"meant for another member",
       {{"name", "a"}, {"member", "c"}},
       none,
       Kind::conflict,
       "for member c, this is b"},
      {"meant for another cluster",
       {{"name", "a"}, {"scope", "other"}},
       none,
       Kind::conflict,
       "for cluster other"},
      {"itself", {{"name", "b"}}, none, Kind::conflict, "is this member"},
      {"running as a primary",
       {{"name", "a"}},
       [](auto&, auto& in) { in.running_as_primary = true; },
       Kind::conflict,
       "Running as a leader"},
      {"taking the lock",
       {{"name", "a"}},
       [](auto&, auto& in) { in.claiming = true; },
       Kind::conflict,
       "holds or is taking the leader lock"},
      {"another member holds the lock",
       {{"name", "a"}},
       [](auto& v, auto&) {
         v->leader = LeaderRecord{"c", 9, 4};
       },
       Kind::conflict,
       "c holds the leader lock, not a"},
      {"no leader key (it expired with the asker's lease)",
       {{"name", "a"}},
       [](auto& v, auto&) { v->leader.reset(); },
       Kind::accept,
       "Accepted"},
      {"the asker stopped to hand this member a switchover",
       {{"name", "a"}},
       [](auto& v, auto&) {
         v->failover = FailoverRequest{};
         v->failover->leader = "a";
         v->failover->candidate = "b";
         v->failover->final_lsn = "0/3000000";
       },
       Kind::conflict,
       "handing its lock to b"},
      {"a switchover not yet under way",
       {{"name", "a"}},
       [](auto& v, auto&) {
         v->failover = FailoverRequest{};
         v->failover->leader = "a";
         v->failover->candidate = "b";
       },
       Kind::accept,
       "Accepted"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    std::optional<ClusterView> view = base;
    FailsafeRequestInput in{.body = row.body,
                            .self = self,
                            .scope = scope,
                            .ttl = 2000ms,
                            .view = view,
                            .failsafe_mode = true};
    row.setup(view, in);
    FailsafeAnswer a = answerFailsafe(in);
    EXPECT_EQ(static_cast<int>(a.kind), static_cast<int>(row.kind)) << a.message;
    EXPECT_THAT(a.message, HasSubstr(row.message));
    if (a.kind == Kind::accept) {
      EXPECT_EQ(a.leader, "a");
      EXPECT_EQ(a.promise, 2000ms);
    }
  }
}

TEST(FailsafeAnswerTest, PromisesTheLongerOfBothTtls) {
  ClusterView v;
  std::optional<ClusterView> view = v;
  const std::string self = "b", scope = "demo";
  auto promise = [&](nlohmann::json body) {
    FailsafeRequestInput in{.body = body,
                            .self = self,
                            .scope = scope,
                            .ttl = 2000ms,
                            .view = view,
                            .failsafe_mode = true};
    return answerFailsafe(in).promise;
  };
  EXPECT_EQ(promise({{"name", "a"}, {"ttl_ms", 10000}}), 10000ms);
  EXPECT_EQ(promise({{"name", "a"}, {"ttl_ms", 500}}), 2000ms);
  EXPECT_EQ(promise({{"name", "a"}, {"ttl_ms", 99999999999}}), 3600000ms);
  EXPECT_EQ(promise({{"name", "a"}, {"ttl_ms", "10s"}}), 2000ms);
}

}  // namespace
}  // namespace keel::ha
