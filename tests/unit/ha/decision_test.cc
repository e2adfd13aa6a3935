#include "ha/decision.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "unit/ha/scenario.h"

namespace keel::ha {
namespace {

using ::testing::HasSubstr;
using namespace keel::ha::testing;
using Role = Decision::Role;

// One row: a situation, built from the default Scenario, and what decide() must answer. The
// reason must name the cause, so each row checks a fragment of it.
struct Row {
  const char* what;
  std::function<void(Scenario&)> setup;
  Action action;
  std::string target;
  std::string reason;
};

void runTable(const std::vector<Row>& rows) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    Scenario s;
    row.setup(s);
    Decision d = s.decide();
    EXPECT_EQ(toString(d.action), std::string(toString(row.action))) << d.reason;
    EXPECT_EQ(d.target, row.target) << d.reason;
    EXPECT_THAT(d.reason, HasSubstr(row.reason));
  }
}

// No leader key; members a, b, c are running replicas; the local member is `self`.
void leaderGone(Scenario& s, const std::string& self, std::uint64_t a, std::uint64_t b,
                std::uint64_t c) {
  const std::map<std::string, std::uint64_t> wals{{"a", a}, {"b", b}, {"c", c}};
  s.view.leader.reset();
  s.peers.clear();
  for (const auto& [name, w] : wals) {
    s.member(replicaRecord(name, w));
    if (name == self) {
      s.local.name = name;
      s.local.wal_position = wal(w);
    } else {
      s.peers.push_back(peer(name, w));
    }
  }
}

TEST(DecisionElectionTest, OnlyTheMemberWithTheHighestWalTakesTheLock) {
  for (const char* self : {"a", "b", "c"}) {
    SCOPED_TRACE(self);
    Scenario s;
    leaderGone(s, self, 100, 300, 200);
    Decision d = s.decide();
    if (std::string(self) == "b") {
      EXPECT_EQ(d.action, Action::acquire_leader) << d.reason;
      EXPECT_EQ(d.role, Role::leader);
      EXPECT_THAT(d.reason, HasSubstr("healthiest"));
    } else {
      EXPECT_EQ(d.action, Action::none) << d.reason;
      EXPECT_THAT(d.reason, HasSubstr("member b has a higher WAL position"));
    }
  }
}

TEST(DecisionElectionTest, EligibilityAndTieBreaking) {
  runTable({
      {"local nofailover never takes the lock",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.local.nofailover = true;
       },
       Action::none, "", "nofailover"},
      {"local failover_priority 0 never takes the lock",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.local.failover_priority = 0;
       },
       Action::none, "", "failover_priority 0"},
      {"a nofailover peer with more WAL does not block",
       [](Scenario& s) {
         leaderGone(s, "b", 900, 300, 200);
         s.peers[0].nofailover = true;
       },
       Action::acquire_leader, "", "healthiest"},
      {"a failover_priority 0 peer with more WAL does not block",
       [](Scenario& s) {
         leaderGone(s, "b", 900, 300, 200);
         s.peers[0].failover_priority = 0;
       },
       Action::acquire_leader, "", "healthiest"},
      {"too far behind the last leader position",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.view.last_leader_position = wal(300 + 2 * kMiB);
       },
       Action::none, "", "maximum_lag_on_failover"},
      {"behind the last leader position but within the limit",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.view.last_leader_position = wal(300 + kMiB);
       },
       Action::acquire_leader, "", "healthiest"},
      {"equal WAL, peer has the higher priority",
       [](Scenario& s) {
         leaderGone(s, "b", 300, 300, 200);
         s.peers[0].failover_priority = 2;
       },
       Action::none, "", "member a has the same WAL position and a higher failover_priority"},
      {"equal WAL, local has the higher priority",
       [](Scenario& s) {
         leaderGone(s, "b", 300, 300, 200);
         s.local.failover_priority = 2;
       },
       Action::acquire_leader, "", "healthiest"},
      {"equal WAL and priority: both may try, the CAS decides",
       [](Scenario& s) { leaderGone(s, "b", 300, 300, 200); }, Action::acquire_leader, "",
       "healthiest"},
      {"priority only breaks ties: a higher-priority peer with less WAL does not block",
       [](Scenario& s) {
         leaderGone(s, "b", 200, 300, 100);
         s.peers[0].failover_priority = 9;
       },
       Action::acquire_leader, "", "healthiest"},
      {"priority only breaks ties: higher local priority does not beat more WAL",
       [](Scenario& s) {
         leaderGone(s, "a", 200, 300, 100);
         s.local.failover_priority = 9;
       },
       Action::none, "", "member b has a higher WAL position"},
      {"an unreachable peer with more WAL does not block",
       [](Scenario& s) {
         leaderGone(s, "b", 900, 300, 200);
         s.peers[0].reachable = false;
       },
       Action::acquire_leader, "", "healthiest"},
      {"a reachable peer still running as primary blocks, whatever its WAL and tags",
       [](Scenario& s) {
         leaderGone(s, "b", 10, 300, 200);
         s.peers[0].in_recovery = false;
         s.peers[0].nofailover = true;
       },
       Action::none, "", "member a still runs PostgreSQL as a primary"},
      {"running primary without the lock and a better peer: demote",
       [](Scenario& s) {
         leaderGone(s, "b", 900, 300, 200);
         s.localIsRunningPrimary();
       },
       Action::demote, "", "member a has a higher WAL position"},
      {"running primary without the lock and no better peer: take the lock",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.localIsRunningPrimary();
       },
       Action::acquire_leader, "", "healthiest"},
      {"no valid lease: no election",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.local.last_renewal_sent.reset();
       },
       Action::none, "", "no valid lease"},
      {"stopped with data: start read-only to compare",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.localIsStopped();
       },
       Action::start_standby, "", "read-only to compare WAL positions"},
      {"no data and no leader: wait",
       [](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         s.localIsStopped();
         s.local.data_initialized = false;
       },
       Action::none, "", "waiting for a leader to clone"},
  });
}

// PostgreSQL that runs but does not answer (the machine is overloaded, or it is still starting
// or recovering) must not be started a second time, or killed as if it were down.
TEST(DecisionLeaderTest, UnresponsivePostgresIsWaitedForThenStoppedOnTheLeader) {
  auto unresponsive = [](Scenario& s, std::chrono::milliseconds since) {
    s.localIsStopped();
    s.local.pg_unresponsive = true;
    s.local.pg_unresponsive_since = s.now - since;
  };
  runTable({
      {"leader, PostgreSQL silent for 5 s: wait, keeping the lock",
       [&](Scenario& s) {
         s.leaderIs("b");
         unresponsive(s, std::chrono::seconds(5));
       },
       Action::none, "", "runs but has not answered queries for 5 s"},
      {"leader, PostgreSQL silent past the grace: stop it",
       [&](Scenario& s) {
         s.leaderIs("b");
         unresponsive(s, std::chrono::seconds(31));
       },
       Action::fence, "", "has not answered queries for 31 s"},
      {"replica, PostgreSQL silent for long: wait, never start a second postmaster",
       [&](Scenario& s) {
         s.leaderIs("a").member(primaryRecord("a", 2000));
         unresponsive(s, std::chrono::seconds(120));
       },
       Action::none, "", "waiting for it"},
      {"no leader, PostgreSQL silent: wait instead of starting it read-only",
       [&](Scenario& s) {
         leaderGone(s, "b", 100, 300, 200);
         unresponsive(s, std::chrono::seconds(1));
       },
       Action::none, "", "waiting for it"},
  });
  Scenario s;
  s.leaderIs("b");
  unresponsive(s, std::chrono::seconds(1));
  EXPECT_EQ(s.decide().role, Role::leader);
}

TEST(DecisionLeaderTest, LeaderPaths) {
  runTable({
      {"holding the lock, PostgreSQL stopped: start it as primary",
       [](Scenario& s) { s.leaderIs("b").localIsStopped(); }, Action::start_primary, "",
       "not running on the leader"},
      {"holding the lock as a standby: promote", [](Scenario& s) { s.leaderIs("b"); },
       Action::promote, "", "promoting"},
      {"holding the lock as a running primary: nothing to do",
       [](Scenario& s) { s.leaderIs("b").localIsRunningPrimary(); }, Action::none, "",
       "holding the leader lock"},
      {"holding the lock without data: release it",
       [](Scenario& s) {
         s.leaderIs("b").localIsStopped();
         s.local.data_initialized = false;
       },
       Action::release_leader, "", "without a data directory"},
      {"key with our name but a previous lease: not ours, wait for it to expire",
       [](Scenario& s) {
         s.leaderIs("b").localIsStopped();
         s.view.leader->lease = 41;
       },
       Action::none, "", "stale leader key"},
      {"key with our name but a previous lease while running as primary: fence, because "
       "that lease expires at a time this agent cannot know",
       [](Scenario& s) {
         s.leaderIs("b").localIsRunningPrimary();
         s.view.leader->lease = 41;
       },
       Action::fence, "", "not this agent's lease 42"},
  });
  Scenario s;
  s.leaderIs("b").localIsRunningPrimary();
  EXPECT_EQ(s.decide().role, Role::leader);
  EXPECT_TRUE(holdsLeaderLock(s.input()));
}

TEST(DecisionFollowerTest, FollowerPaths) {
  auto withLeaderA = [](Scenario& s) {
    s.leaderIs("a").member(primaryRecord("a", 2000)).member(replicaRecord("b", 1000, "a"));
    s.local.upstream = "a";
  };
  runTable({
      {"no data: clone from the leader",
       [&](Scenario& s) {
         withLeaderA(s);
         s.localIsStopped();
         s.local.data_initialized = false;
         s.local.system_identifier = 0;
       },
       Action::clone, "a", "cloning from leader a"},
      {"no data and the leader is still bootstrapping: wait before cloning",
       [&](Scenario& s) {
         withLeaderA(s);
         s.view.members["a"].state = "bootstrapping";
         s.localIsStopped();
         s.local.data_initialized = false;
         s.local.system_identifier = 0;
       },
       Action::none, "", "waiting for leader a to run as primary (it is bootstrapping)"},
      {"no data and the leader has no address yet: wait",
       [&](Scenario& s) {
         withLeaderA(s);
         s.view.members.erase("a");
         s.localIsStopped();
         s.local.data_initialized = false;
       },
       Action::none, "", "waiting for leader a to publish its address"},
      {"stopped replica: start as a standby of the leader",
       [&](Scenario& s) {
         withLeaderA(s);
         s.localIsStopped();
       },
       Action::start_standby, "a", "replica of a"},
      {"running standby of the old leader: follow the new one",
       [&](Scenario& s) {
         withLeaderA(s);
         s.local.upstream = "c";
       },
       Action::follow, "a", "following the new leader a"},
      {"running standby of the leader: nothing to do", [&](Scenario& s) { withLeaderA(s); },
       Action::none, "", "replica of a"},
      {"running standby holding WAL past the leader's fork point: rewind it",
       [&](Scenario& s) {
         withLeaderA(s);
         s.local.timeline = 1;
         s.local.wal_position = WalPosition{0x613D428};
         s.local.leader_fork_lsn = WalPosition{0x613D348};
       },
       Action::rewind, "a", "past 0/613D348 where the leader's timeline forked off it"},
      {"running standby behind the leader's fork point: it can still follow",
       [&](Scenario& s) {
         withLeaderA(s);
         s.local.timeline = 1;
         s.local.wal_position = WalPosition{0x613D348};
         s.local.leader_fork_lsn = WalPosition{0x613D348};
       },
       Action::none, "", "replica of a"},
      {"running primary while another member holds the lock: demote",
       [&](Scenario& s) {
         withLeaderA(s);
         s.localIsRunningPrimary();
       },
       Action::demote, "a", "a holds the leader lock"},
      {"stopped former primary: rejoin (rewind check) rather than a plain start",
       [&](Scenario& s) {
         withLeaderA(s);
         s.localIsStopped();
         s.local.stopped_as_primary = true;
       },
       Action::rejoin, "a", "former primary"},
  });
}

TEST(DecisionSafetyTest, SystemIdentifierMismatchIsRefused) {
  Scenario s;
  s.leaderIs("a").member(primaryRecord("a", 2000));
  s.local.system_identifier = 9999;
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::refuse);
  EXPECT_THAT(d.reason, HasSubstr("9999"));
  EXPECT_THAT(d.reason, HasSubstr("7000"));
  EXPECT_THAT(d.reason, HasSubstr("keel ctl reinit"));
  // Unknown (not read yet) is not a mismatch.
  s.local.system_identifier = 0;
  EXPECT_NE(s.decide().action, Action::refuse);
}

TEST(DecisionBootstrapTest, BootstrapPaths) {
  auto uninitialized = [](Scenario& s) {
    s.view.initialize.reset();
    s.local.data_initialized = false;
    s.local.pg_running = false;
    s.local.system_identifier = 0;
  };
  runTable({
      {"uninitialized with a valid lease: bootstrap", uninitialized, Action::bootstrap, "",
       "bootstrapping a new cluster"},
      {"uninitialized without a lease: wait",
       [&](Scenario& s) {
         uninitialized(s);
         s.local.last_renewal_sent.reset();
       },
       Action::none, "", "waiting for a lease"},
      {"another member holds the leader key while initialize is absent",
       [&](Scenario& s) {
         uninitialized(s);
         s.leaderIs("c");
       },
       Action::none, "", "member c is bootstrapping"},
      {"another member is bootstrapping (initialize empty)",
       [&](Scenario& s) {
         uninitialized(s);
         s.view.initialize = "";
         s.leaderIs("c");
       },
       Action::none, "", "member c is bootstrapping"},
      {"this member is bootstrapping",
       [&](Scenario& s) {
         uninitialized(s);
         s.view.initialize = "";
         s.leaderIs("b");
       },
       Action::none, "", "bootstrapping the cluster"},
      {"existing data, stopped: start read-only first",
       [&](Scenario& s) {
         uninitialized(s);
         s.local.data_initialized = true;
       },
       Action::start_standby, "", "local data exists"},
      {"existing data, a peer has more WAL",
       [&](Scenario& s) {
         uninitialized(s);
         s.local.data_initialized = true;
         s.local.pg_running = true;
         s.peers = {peer("a", 5000)};
       },
       Action::none, "", "member a has a higher WAL position"},
      {"existing data, healthiest: adopt it",
       [&](Scenario& s) {
         uninitialized(s);
         s.local.data_initialized = true;
         s.local.pg_running = true;
         s.peers = {peer("a", 500)};
       },
       Action::bootstrap, "", "adopting this member's existing data"},
  });
}

// Patroni's maintenance mode never acts: not even to fence a primary past its deadline.
TEST(DecisionPauseTest, PausedDoesNothingInEverySituation) {
  std::vector<std::pair<const char*, std::function<void(Scenario&)>>> situations{
      {"leader, stopped", [](Scenario& s) { s.leaderIs("b").localIsStopped(); }},
      {"leader, standby", [](Scenario& s) { s.leaderIs("b"); }},
      {"follower without data",
       [](Scenario& s) {
         s.leaderIs("a").member(primaryRecord("a", 2000)).localIsStopped();
         s.local.data_initialized = false;
       }},
      {"primary without the lock",
       [](Scenario& s) { s.leaderIs("a").member(primaryRecord("a", 9)).localIsRunningPrimary(); }},
      {"healthiest with the lock free", [](Scenario& s) { leaderGone(s, "b", 1, 900, 2); }},
      {"primary past its fence deadline",
       [](Scenario& s) {
         s.leaderIs("b").localIsRunningPrimary();
         s.now = *s.local.last_renewal_sent + kTtl;
       }},
      {"system identifier mismatch", [](Scenario& s) { s.local.system_identifier = 1; }},
      {"uninitialized",
       [](Scenario& s) {
         s.view.initialize.reset();
         s.local.data_initialized = false;
       }},
      {"switchover due",
       [](Scenario& s) {
         s.leaderIs("b").localIsRunningPrimary().member(replicaRecord("c", 1000));
         s.view.failover = FailoverRequest{.leader = "b", .candidate = "c"};
       }},
  };
  for (const auto& [what, setup] : situations) {
    SCOPED_TRACE(what);
    Scenario s;
    s.paused();
    setup(s);
    Decision d = s.decide();
    EXPECT_EQ(d.action, Action::none) << toString(d.action) << ": " << d.reason;
    EXPECT_THAT(d.reason, HasSubstr("maintenance mode"));
  }
}

}  // namespace
}  // namespace keel::ha

namespace keel::ha {
namespace {

using namespace keel::ha::testing;

// The leader's PostgreSQL does not start (a full disk, a bad parameter): after
// primary_start_timeout (300 s) the leader releases the lock, but only when a replica can take
// it over.
TEST(DecisionLeaderTest, APrimaryThatCannotStartHandsOverAfterPrimaryStartTimeout) {
  Scenario s;
  s.local.name = "a";
  s.leaderIs("a").localIsStopped();
  s.local.stopped_as_primary = true;
  s.member(primaryRecord("a", 1000))
      .member(replicaRecord("b", 1000))
      .member(replicaRecord("c", 990));
  s.view.members["b"].state = "running";  // not streaming: its upstream is down
  s.local.primary_down_since = kNow - std::chrono::seconds(299);
  EXPECT_EQ(s.decide().action, Action::start_primary);
  s.local.primary_down_since = kNow - std::chrono::seconds(300);
  Decision d = s.decide();
  EXPECT_EQ(d.action, Action::release_leader) << d.reason;
  EXPECT_THAT(d.reason, ::testing::HasSubstr("primary_start_timeout"));
  // Under synchronous replication only a voter counts as a successor.
  s.view.sync = SyncState{.leader = "a", .voters = {"c"}, .quorum = 1};
  s.view.members["c"].nofailover = true;
  d = s.decide();
  EXPECT_EQ(d.action, Action::start_primary) << d.reason;
  s.view.members["c"].nofailover = false;
  EXPECT_EQ(s.decide().action, Action::release_leader);
  // Nobody to take over: keep trying.
  s.view.sync.reset();
  s.view.members.erase("b");
  s.view.members.erase("c");
  EXPECT_EQ(s.decide().action, Action::start_primary);
}

}  // namespace
}  // namespace keel::ha
