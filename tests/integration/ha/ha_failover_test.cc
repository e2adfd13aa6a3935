// Unplanned failovers: the primary's host dies (agent and postmaster killed), the killed member
// comes back, and only the agent dies.
#include <signal.h>

#include <algorithm>
#include <iostream>

#include "common/wal_position.h"
#include "integration/ha/ha_test_fixture.h"

namespace keel::hatest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::optional<WalPosition> lsn(KeelCluster& kc, const std::string& member, const std::string& sql) {
  auto r = kc.exec(member, sql);
  if (!r.ok) {
    return std::nullopt;
  }
  auto p = WalPosition::parse(r.scalar());
  if (!p) {
    return std::nullopt;
  }
  return *p;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// Kills `leader`'s agent and postmaster with SIGKILL, as if its host died.
void killPrimaryHost(KeelCluster& kc, const std::string& leader) {
  pid_t pm = kc.postmasterPid(leader);
  ASSERT_GT(pm, 0) << "no postmaster.pid for " << leader;
  ASSERT_TRUE(kc.killAgent(leader, SIGKILL));
  kill(pm, SIGKILL);
}

TEST_F(HaClusterTest, KilledPrimaryIsReplacedByTheMostAdvancedReplica) {
  std::string old_leader = cluster().leader();
  ASSERT_FALSE(old_leader.empty());
  std::string ahead = someReplica(old_leader);
  std::string behind = someReplica(old_leader, ahead);
  auto old_timeline = leaderTimeline(*cluster().cluster());

  auto setup = cluster().exec(old_leader,
                              "DROP TABLE IF EXISTS fo; CREATE TABLE fo(id int, pad text); "
                              "INSERT INTO fo VALUES (0, 'before the lag')");
  ASSERT_TRUE(setup.ok) << setup.error;
  ASSERT_TRUE(waitForValue(ahead, "SELECT count(*) FROM fo", "1", 20s));
  ASSERT_TRUE(waitForValue(behind, "SELECT count(*) FROM fo", "1", 20s));

  // `behind` stops replaying and receiving: pausing replay alone is not enough, since Keel
  // compares the received position too.
  auto paused = cluster().exec(behind, "SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(paused.ok) << paused.error;
  auto walreceiver = cluster().exec(behind, "SELECT pid FROM pg_stat_wal_receiver");
  ASSERT_TRUE(walreceiver.ok && !walreceiver.scalar().empty()) << walreceiver.error;
  pid_t receiver_pid = static_cast<pid_t>(std::stol(walreceiver.scalar()));
  ASSERT_EQ(kill(receiver_pid, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{receiver_pid};

  auto more = cluster().exec(old_leader,
                             "INSERT INTO fo SELECT g, repeat('x', 100) FROM "
                             "generate_series(1, 1000) g");
  ASSERT_TRUE(more.ok) << more.error;
  ASSERT_TRUE(waitForValue(ahead, "SELECT count(*) FROM fo", "1001", 20s));
  auto ahead_lsn = lsn(cluster(), ahead, "SELECT pg_last_wal_receive_lsn()");
  auto behind_lsn = lsn(cluster(), behind, "SELECT pg_last_wal_receive_lsn()");
  ASSERT_TRUE(ahead_lsn && behind_lsn);
  ASSERT_LT(*behind_lsn, *ahead_lsn) << "the paused replica did not fall behind";
  std::cout << "[ info     ] " << old_leader << " dies; " << ahead << " received "
            << ahead_lsn->str() << ", " << behind << " received " << behind_lsn->str() << "\n";

  WritableSampler sampler(cluster(), 100ms);
  auto killed_at = std::chrono::steady_clock::now();
  killPrimaryHost(cluster(), old_leader);
  leftDown() = old_leader;

  std::string new_leader;
  ASSERT_TRUE(waitFor(
      [&] {
        new_leader = cluster().leader();
        return !new_leader.empty() && new_leader != old_leader;
      },
      60s, 100ms))
      << "no new leader; last seen: " << new_leader;
  EXPECT_EQ(new_leader, ahead) << "the replica that was behind was promoted";

  std::string last_error;
  bool wrote = waitFor(
      [&] {
        auto r = cluster().execConninfo(cluster().readWriteConninfo(2),
                                        "INSERT INTO fo VALUES (-1, 'after failover')");
        last_error = r.error;
        return r.ok;
      },
      30s, 100ms);
  auto write_delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  ASSERT_TRUE(wrote) << last_error;
  std::cout << "[ info     ] first write through the read-write conninfo after "
            << write_delay.count() << " ms\n";
  EXPECT_LE(write_delay, 15s);

  // Let the lagging replica go and check it follows the new leader.
  kill(receiver_pid, SIGCONT);
  auto resumed = cluster().exec(behind, "SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(resumed.ok || resumed.error.find("not in recovery") != std::string::npos)
      << resumed.error;
  EXPECT_TRUE(waitFor(
      [&] {
        auto c = cluster().cluster(new_leader);
        return c && memberState(*c, behind) == "streaming" &&
               memberTimeline(*c, behind) == leaderTimeline(*c);
      },
      60s))
      << behind << " did not follow " << new_leader;
  EXPECT_TRUE(waitForValue(behind, "SELECT count(*) FROM fo WHERE id = -1", "1", 30s));
  sampler.stop();
  EXPECT_LE(sampler.max(), 1) << sampler.violations();
  EXPECT_GT(sampler.samples(), 10);

  auto c = cluster().cluster(new_leader);
  ASSERT_TRUE(c);
  EXPECT_GT(leaderTimeline(*c), old_timeline) << describeCluster(*c);
}

TEST_F(HaClusterTest, KilledPrimaryRejoinsAsReplicaAfterRewind) {
  // Normally the failover test left its old primary down; run on its own, this test makes a
  // failover first.
  std::string old_member = leftDown();
  leftDown().clear();
  if (old_member.empty()) {
    old_member = cluster().leader();
    ASSERT_FALSE(old_member.empty());
    killPrimaryHost(cluster(), old_member);
    ASSERT_TRUE(waitFor(
        [&] {
          auto l = cluster().leader();
          return !l.empty() && l != old_member && cluster().writablePrimaries() == 1;
        },
        60s));
  }
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  auto marker = cluster().exec(leader,
                               "CREATE TABLE IF NOT EXISTS rejoin_marker(v text); "
                               "INSERT INTO rejoin_marker VALUES ('written while " +
                                   old_member + " was down')");
  ASSERT_TRUE(marker.ok) << marker.error;

  const std::string& log_path = cluster().node(old_member).log_path;
  std::size_t log_offset = fileSize(log_path);
  ASSERT_TRUE(cluster().restartAgent(old_member)) << cluster().error();
  std::string why;
  ASSERT_TRUE(cluster().waitHealthy(120s, &why)) << why;

  auto c = cluster().cluster();
  ASSERT_TRUE(c);
  EXPECT_EQ(memberRole(*c, old_member), "replica") << describeCluster(*c);
  EXPECT_EQ(memberState(*c, old_member), "streaming") << describeCluster(*c);
  EXPECT_EQ(memberTimeline(*c, old_member), leaderTimeline(*c)) << describeCluster(*c);
  EXPECT_EQ(cluster().leader(), leader);

  std::string log = readFrom(log_path, log_offset);
  EXPECT_NE(lower(log).find("rewind"), std::string::npos) << log;
  EXPECT_NE(log.find("(rewound)"), std::string::npos) << "expected a pg_rewind, not a re-clone:\n"
                                                      << log;
  EXPECT_TRUE(waitForValue(
      old_member,
      "SELECT count(*) FROM rejoin_marker WHERE v = 'written while " + old_member + " was down'",
      "1", 30s));
}

TEST_F(HaClusterTest, KilledAgentTakesItsPostmasterDownAndAnotherMemberLeads) {
  std::string old_leader = cluster().leader();
  ASSERT_FALSE(old_leader.empty());
  pid_t pm = cluster().postmasterPid(old_leader);
  ASSERT_TRUE(processAlive(pm)) << "postmaster of " << old_leader << " (pid " << pm << ")";

  WritableSampler sampler(cluster(), 50ms);
  ASSERT_TRUE(cluster().killAgent(old_leader, SIGKILL));
  auto killed_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(waitFor([&] { return !processAlive(pm); }, 5s, 20ms))
      << "the postmaster of " << old_leader << " outlived its agent by more than 5 s";
  auto pm_gone = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);

  std::string new_leader;
  ASSERT_TRUE(waitFor(
      [&] {
        new_leader = cluster().leader();
        if (new_leader.empty() || new_leader == old_leader) {
          return false;
        }
        auto r = cluster().exec(new_leader, "SELECT NOT pg_is_in_recovery()");
        return r.ok && r.scalar() == "t";
      },
      60s, 50ms))
      << "no writable new leader; last seen: " << new_leader;
  auto elected = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  sampler.stop();
  std::cout << "[ info     ] postmaster gone after " << pm_gone.count() << " ms, " << new_leader
            << " writable after " << elected.count() << " ms, " << sampler.samples()
            << " samples\n";
  EXPECT_LE(sampler.max(), 1) << sampler.violations();

  ASSERT_TRUE(cluster().restartAgent(old_leader)) << cluster().error();
  std::string why;
  EXPECT_TRUE(cluster().waitHealthy(120s, &why)) << why;
}

}  // namespace
}  // namespace keel::hatest
