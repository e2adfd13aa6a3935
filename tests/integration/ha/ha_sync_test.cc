// Synchronous replication: synchronous_mode through the dynamic configuration, the sync key and
// health endpoints, and a failover that must go to the synchronous standby even when the
// asynchronous replica received more WAL.
#include <signal.h>

#include <iostream>
#include <set>
#include <thread>

#include "common/wal_position.h"
#include "integration/ha/ha_test_fixture.h"

namespace keel::hatest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string syncStandbyOf(const json& cluster) {
  for (const auto& m : cluster.value("members", json::array())) {
    if (m.value("role", "") == "sync_standby")
      return m.value("name", "");
  }
  return "";
}

int status(KeelCluster& kc, const std::string& member, const std::string& path) {
  auto r = kc.api(member, "GET", path);
  return r ? r->status : -1;
}

std::optional<WalPosition> receivedLsn(KeelCluster& kc, const std::string& member) {
  auto r = kc.exec(member, "SELECT pg_last_wal_receive_lsn()");
  if (!r.ok)
    return std::nullopt;
  return WalPosition::parse(r.scalar());
}

TEST_F(HaClusterTest, SynchronousModeFailsOverToTheSynchronousStandbyOnly) {
  const std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  // Whatever happens below, the next tests get an asynchronous cluster back.
  DynamicConfigReset sync_off{cluster(), "synchronous_mode"};

  auto on = cluster().api(leader, "PATCH", "/config", {{"synchronous_mode", "on"}});
  ASSERT_TRUE(on) << on.message();
  ASSERT_EQ(on->status, 200) << on->body;
  auto bad = cluster().api(leader, "PATCH", "/config", {{"synchronous_mode", "sometimes"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("synchronous_mode: expected off, on or quorum"), std::string::npos)
      << bad->body;

  std::string sync;
  ASSERT_TRUE(waitFor(
      [&] {
        auto c = cluster().cluster(leader);
        sync = c ? syncStandbyOf(*c) : "";
        return !sync.empty();
      },
      30s))
      << "no sync_standby in /cluster: " << cluster().logTails(20);
  std::string async = someReplica(leader, sync);
  std::cout << "[ info     ] leader " << leader << ", sync standby " << sync << ", async replica "
            << async << "\n";
  auto names = cluster().exec(leader, "SHOW synchronous_standby_names");
  ASSERT_TRUE(names.ok) << names.error;
  EXPECT_EQ(names.scalar(), "FIRST 1 (\"" + sync + "\")");
  EXPECT_EQ(status(cluster(), sync, "/sync"), 200);
  EXPECT_EQ(status(cluster(), sync, "/async"), 503);
  EXPECT_EQ(status(cluster(), async, "/sync"), 503);
  EXPECT_EQ(status(cluster(), async, "/async"), 200);
  EXPECT_EQ(status(cluster(), leader, "/read-only-sync"), 200);
  EXPECT_EQ(status(cluster(), async, "/read-only-sync"), 503);

  auto setup = cluster().exec(leader,
                              "DROP TABLE IF EXISTS syncfo; CREATE TABLE syncfo(id int); "
                              "INSERT INTO syncfo VALUES (1)");
  ASSERT_TRUE(setup.ok) << setup.error;
  // The leader's walsender to the synchronous standby stops; a commit then waits for it (never
  // acknowledged) while its WAL reaches the asynchronous replica, which gets ahead.
  auto walsender = cluster().exec(
      leader, "SELECT pid FROM pg_stat_replication WHERE application_name = '" + sync + "'");
  ASSERT_TRUE(walsender.ok && !walsender.scalar().empty()) << walsender.error;
  pid_t sender_pid = static_cast<pid_t>(std::stol(walsender.scalar()));
  ASSERT_EQ(kill(sender_pid, SIGSTOP), 0);
  struct KillSender {
    pid_t pid;
    ~KillSender() { kill(pid, SIGKILL); }
  } kill_sender{sender_pid};
  std::atomic<bool> blocked_returned{false};
  SqlResult blocked_result;
  std::thread blocked([&] {
    blocked_result =
        cluster().execConninfo(cluster().conninfo(leader, 30),
                               "INSERT INTO syncfo SELECT g FROM generate_series(2, 2000) g");
    blocked_returned = true;
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable())
        t.join();
    }
  } join{blocked};
  std::optional<WalPosition> sync_lsn, async_lsn;
  ASSERT_TRUE(waitFor(
      [&] {
        sync_lsn = receivedLsn(cluster(), sync);
        async_lsn = receivedLsn(cluster(), async);
        return sync_lsn && async_lsn && *async_lsn > *sync_lsn;
      },
      20s))
      << "the asynchronous replica did not get ahead";
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(blocked_returned.load()) << "a commit returned without its synchronous standby";

  // The leader's host dies, the stopped walsender with it: the synchronous standby never gets
  // the unacknowledged WAL the asynchronous replica holds.
  pid_t pm = cluster().postmasterPid(leader);
  ASSERT_GT(pm, 0);
  ASSERT_TRUE(cluster().killAgent(leader, SIGKILL));
  kill(sender_pid, SIGKILL);
  kill(pm, SIGKILL);

  std::string new_leader;
  ASSERT_TRUE(waitFor(
      [&] {
        new_leader = cluster().leader();
        return !new_leader.empty() && new_leader != leader;
      },
      60s, 100ms))
      << "no new leader: " << cluster().logTails(20);
  EXPECT_EQ(new_leader, sync) << "the asynchronous replica, which never held the commit "
                                 "acknowledged last, was promoted";
  blocked.join();
  EXPECT_FALSE(blocked_result.ok) << "the unacknowledged INSERT reported success";

  auto h = history(new_leader);
  ASSERT_TRUE(h.is_array() && !h.empty()) << h.dump();
  const json& last = h.back();
  ASSERT_TRUE(last.is_array() && last.size() >= 6) << last.dump();
  EXPECT_EQ(last[5].value("replication", ""), "synchronous") << last.dump();

  auto count = cluster().execConninfo(cluster().readWriteConninfo(5),
                                      "SELECT count(*) FROM syncfo WHERE id = 1");
  ASSERT_TRUE(count.ok) << count.error;
  EXPECT_EQ(count.scalar(), "1");

  // The asynchronous replica held WAL the new leader never had: it is rewound, follows the new
  // leader and becomes its synchronous standby.
  std::string why;
  EXPECT_TRUE(waitFor(
      [&] {
        auto c = cluster().cluster(new_leader);
        return c && syncStandbyOf(*c) == async;
      },
      90s))
      << async << " did not become the synchronous standby of " << new_leader << ": "
      << cluster().logTails(30);
  auto write =
      cluster().execConninfo(cluster().readWriteConninfo(5), "INSERT INTO syncfo VALUES (3)");
  EXPECT_TRUE(write.ok) << write.error;

  // Off again: the leader stops waiting and deletes the key.
  auto off = cluster().api(new_leader, "PATCH", "/config", {{"synchronous_mode", nullptr}});
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 200) << off->body;
  EXPECT_TRUE(waitFor(
      [&] {
        auto c = cluster().cluster(new_leader);
        auto n = cluster().exec(new_leader, "SHOW synchronous_standby_names");
        return c && syncStandbyOf(*c).empty() && n.ok && n.scalar().empty();
      },
      30s));
}

std::set<std::string> quorumStandbysOf(const json& cluster) {
  std::set<std::string> out;
  for (const auto& m : cluster.value("members", json::array())) {
    if (m.value("role", "") == "quorum_standby")
      out.insert(m.value("name", ""));
  }
  return out;
}

// Quorum mode: a commit waits for any one of the two standbys, so after losing the leader a
// standby may only be promoted once it sees both voters (one of them holds every acknowledged
// commit). With the leader dead and the other standby's agent frozen (its REST API silent; its
// etcd member keeps the DCS quorum), the survivor waits; when the frozen agent resumes, one of
// them is promoted.
TEST_F(HaClusterTest, QuorumModePromotesOnlyAStandbyThatSeesEnoughVoters) {
  KeelCluster& kc = cluster();
  const std::string leader = kc.leader();
  ASSERT_FALSE(leader.empty());
  DynamicConfigReset sync_off{kc, "synchronous_mode"};
  auto on = kc.api(leader, "PATCH", "/config", {{"synchronous_mode", "quorum"}});
  ASSERT_TRUE(on) << on.message();
  ASSERT_EQ(on->status, 200) << on->body;

  std::set<std::string> voters;
  ASSERT_TRUE(waitFor(
      [&] {
        auto c = kc.cluster(leader);
        voters = c ? quorumStandbysOf(*c) : std::set<std::string>{};
        return voters.size() == 2;
      },
      30s))
      << "not both replicas are quorum standbys: " << kc.logTails(20);
  const std::string lost = *voters.begin(), survivor = *voters.rbegin();
  auto names = kc.exec(leader, "SHOW synchronous_standby_names");
  ASSERT_TRUE(names.ok) << names.error;
  EXPECT_EQ(names.scalar(), "ANY 1 (\"" + lost + "\",\"" + survivor + "\")");
  EXPECT_EQ(status(kc, survivor, "/quorum"), 200);
  EXPECT_EQ(status(kc, survivor, "/read-only-quorum"), 200);
  EXPECT_EQ(status(kc, leader, "/read-only-quorum"), 200);
  EXPECT_EQ(status(kc, survivor, "/sync"), 503);
  EXPECT_EQ(status(kc, survivor, "/async"), 503);
  auto setup = kc.exec(leader,
                       "DROP TABLE IF EXISTS quorumfo; CREATE TABLE quorumfo(id int); "
                       "INSERT INTO quorumfo VALUES (1)");
  ASSERT_TRUE(setup.ok) << setup.error;

  // The leader dies while the other voter's agent is frozen.
  std::size_t log_offset = fileSize(kc.node(survivor).log_path);
  pid_t leader_pm = kc.postmasterPid(leader);
  pid_t lost_agent = kc.agentPid(lost);
  ASSERT_GT(lost_agent, 0);
  ASSERT_EQ(kill(lost_agent, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{lost_agent};
  ASSERT_TRUE(kc.killAgent(leader, SIGKILL));
  if (leader_pm > 0)
    kill(leader_pm, SIGKILL);
  // Five times the ttl: the survivor sees one voter of the two it needs and is not promoted.
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    EXPECT_EQ(kc.writablePrimaries(), 0) << "a member was promoted without a quorum";
    std::this_thread::sleep_for(250ms);
  }
  auto log = readFrom(kc.node(survivor).log_path, log_offset);
  EXPECT_NE(log.find("sees 1 of the 2 synchronous standbys needed"), std::string::npos) << log;

  // The frozen voter resumes: with both voters seen, one of them is promoted.
  ASSERT_EQ(kill(lost_agent, SIGCONT), 0);
  std::string new_leader;
  ASSERT_TRUE(waitFor(
      [&] {
        new_leader = kc.leader();
        return !new_leader.empty() && new_leader != leader;
      },
      60s, 200ms))
      << "no new leader once both voters were back: " << kc.logTails(20);
  EXPECT_TRUE(new_leader == lost || new_leader == survivor) << new_leader;
  auto h = history(new_leader);
  ASSERT_TRUE(h.is_array() && !h.empty()) << h.dump();
  ASSERT_TRUE(h.back().is_array() && h.back().size() >= 6) << h.back().dump();
  EXPECT_EQ(h.back()[5].value("replication", ""), "synchronous") << h.back().dump();
  auto count = kc.execConninfo(kc.readWriteConninfo(5), "SELECT count(*) FROM quorumfo");
  ASSERT_TRUE(count.ok) << count.error;
  EXPECT_EQ(count.scalar(), "1");
  kc.restartDeadAgents();
  std::string why;
  EXPECT_TRUE(kc.waitHealthy(90s, &why)) << why;
}

}  // namespace
}  // namespace keel::hatest
