// failsafe_mode: with every etcd member stopped, the primary keeps accepting writes while every
// member confirms it over the REST API, takes the lock again when etcd comes back (no
// failover, no new timeline), and stops accepting writes soon after one member stops
// confirming.
#include <signal.h>

#include <iostream>
#include <thread>

#include "integration/ha/ha_test_fixture.h"

namespace keel::hatest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// SIGSTOPs every member's etcd until resume() (or the end of the scope): the DCS is out of
// everyone's reach, requests time out.
class EtcdFrozen {
 public:
  explicit EtcdFrozen(KeelCluster& kc) {
    for (const auto& n : kc.names()) {
      pid_t pid = kc.etcdPid(n);
      if (pid > 0 && kill(pid, SIGSTOP) == 0)
        pids_.push_back(pid);
    }
  }
  ~EtcdFrozen() { resume(); }
  std::size_t count() const { return pids_.size(); }
  void resume() {
    for (pid_t pid : pids_)
      kill(pid, SIGCONT);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

bool insertOn(KeelCluster& kc, const std::string& member, int id) {
  return kc
      .execConninfo(kc.conninfo(member, 2),
                    "INSERT INTO failsafe_probe VALUES (" + std::to_string(id) + ")")
      .ok;
}

TEST_F(HaClusterTest, FailsafeModeKeepsThePrimaryWhileEveryMemberConfirmsIt) {
  KeelCluster& kc = cluster();
  const std::string leader = kc.leader();
  ASSERT_FALSE(leader.empty());
  DynamicConfigReset failsafe_off{kc, "failsafe_mode"};

  auto bad = kc.api(leader, "PATCH", "/config", {{"failsafe_mode", "yes"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("failsafe_mode: expected true or false"), std::string::npos)
      << bad->body;
  auto off = kc.api(leader, "GET", "/failsafe");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 503) << off->body;
  auto on = kc.api(leader, "PATCH", "/config", {{"failsafe_mode", true}});
  ASSERT_TRUE(on) << on.message();
  ASSERT_EQ(on->status, 200) << on->body;
  // Every member must have read the mode and the key: one that has not answers 503 to the
  // leader's requests, which then stops writing as without failsafe_mode.
  json listed;
  for (const auto& n : kc.names()) {
    ASSERT_TRUE(waitFor(
        [&] {
          auto r = kc.api(n, "GET", "/failsafe");
          if (!r || r->status != 200)
            return false;
          listed = r->json().value_or(json());
          return listed.is_object() && listed.size() == kc.names().size();
        },
        20s))
        << n << " does not see every member in the failsafe key: " << listed.dump();
  }
  for (const auto& n : kc.names())
    EXPECT_TRUE(listed.contains(n)) << listed.dump();

  auto setup = kc.exec(leader,
                       "DROP TABLE IF EXISTS failsafe_probe; "
                       "CREATE TABLE failsafe_probe(id int)");
  ASSERT_TRUE(setup.ok) << setup.error;
  auto hist_before = kc.api(leader, "GET", "/history");
  ASSERT_TRUE(hist_before && hist_before->status == 200);
  const auto hist_size = hist_before->json().value_or(json::array()).size();
  auto before = kc.cluster(leader);
  ASSERT_TRUE(before);
  const int timeline = leaderTimeline(*before);

  // 1. The DCS is gone for five times the ttl: every write still succeeds on the leader, and
  //    the replicas report that they vouch for it.
  std::size_t log_offset = fileSize(kc.node(leader).log_path);
  WritableSampler sampler(kc, 100ms);
  {
    EtcdFrozen frozen(kc);
    ASSERT_EQ(frozen.count(), kc.names().size());
    const std::string replica = someReplica(leader);
    bool replica_active = false;
    int failed = 0, id = 0;
    auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      if (!insertOn(kc, leader, ++id))
        ++failed;
      if (!replica_active) {
        auto p = kc.api(replica, "GET", "/patroni", nullptr, 1s);
        auto j = p ? p->json() : std::nullopt;
        replica_active = j && j->value("failsafe_mode_is_active", false);
      }
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(failed, 0) << "of " << id << " writes while etcd was stopped:\n"
                         << testsupport::fileTail(kc.node(leader).log_path, 30);
    EXPECT_TRUE(replica_active) << replica << " never reported failsafe_mode_is_active";
    auto metrics = kc.api(leader, "GET", "/metrics", nullptr, 1s);
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("patroni_failsafe_mode_is_active{"), std::string::npos);
  }
  // 2. etcd is back: the leader holds the lock again, without a failover or a new timeline.
  std::string why;
  EXPECT_TRUE(kc.waitHealthy(60s, &why)) << why;
  EXPECT_EQ(kc.leader(), leader);
  auto after = kc.cluster(leader);
  ASSERT_TRUE(after);
  EXPECT_EQ(leaderTimeline(*after), timeline);
  auto hist_after = kc.api(leader, "GET", "/history");
  ASSERT_TRUE(hist_after && hist_after->status == 200);
  EXPECT_EQ(hist_after->json().value_or(json::array()).size(), hist_size) << hist_after->body;
  sampler.stop();
  EXPECT_LE(sampler.max(), 1) << sampler.violations();
  auto log = readFrom(kc.node(leader).log_path, log_offset);
  EXPECT_NE(log.find("confirmed this primary (failsafe_mode)"), std::string::npos) << log;
  EXPECT_EQ(log.find("fencing:"), std::string::npos) << log;
  if (HasFailure())
    return;

  // 3. The DCS is gone again and a replica's agent dies with it: the confirmations stop, and
  //    the leader stops accepting writes within ttl.
  const std::string victim = someReplica(leader);
  log_offset = fileSize(kc.node(leader).log_path);
  {
    EtcdFrozen frozen(kc);
    std::this_thread::sleep_for(500ms);
    ASSERT_TRUE(kc.killAgent(victim, SIGKILL));
    auto killed_at = std::chrono::steady_clock::now();
    int id = 100000;
    bool stopped = waitFor([&] { return !insertOn(kc, leader, ++id); }, 15s, 100ms);
    auto took = std::chrono::steady_clock::now() - killed_at;
    EXPECT_TRUE(stopped) << "the leader kept accepting writes without " << victim
                         << "'s confirmation";
    EXPECT_LT(took, 6s);
    std::cout << "[ info     ] writes refused "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms after "
              << victim << "'s agent was killed\n";
  }
  auto log2 = readFrom(kc.node(leader).log_path, log_offset);
  EXPECT_NE(log2.find("not every member of the failsafe key confirmed"), std::string::npos) << log2;
  kc.restartDeadAgents();
  EXPECT_TRUE(kc.waitHealthy(90s, &why)) << why;
}

}  // namespace
}  // namespace keel::hatest
