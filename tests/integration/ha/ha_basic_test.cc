// Bootstrap, malformed API requests and the loss of one etcd member, on the shared cluster.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "common/child_process.h"
#include "integration/ha/ha_test_fixture.h"

namespace keel::hatest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST_F(HaClusterTest, BootstrapElectsOneLeaderAndReplicatesWrites) {
  EXPECT_LT(bootstrapTime(), 120s);
  auto c = cluster().cluster();
  ASSERT_TRUE(c);
  auto members = c->value("members", json::array());
  ASSERT_EQ(members.size(), 3u) << c->dump();
  int leaders = 0;
  std::set<int> timelines;
  for (const auto& m : members) {
    leaders += m.value("role", "") == "leader" ? 1 : 0;
    timelines.insert(m.value("timeline", 0));
  }
  EXPECT_EQ(leaders, 1) << c->dump();
  EXPECT_EQ(timelines.size(), 1u) << "timelines differ: " << c->dump();
  EXPECT_EQ(cluster().writablePrimaries(), 1);

  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  auto w = cluster().exec(leader,
                          "CREATE TABLE IF NOT EXISTS boot(v text); "
                          "INSERT INTO boot VALUES ('hello from the leader')");
  ASSERT_TRUE(w.ok) << w.error;
  for (const auto& name : cluster().names()) {
    if (name == leader) {
      continue;
    }
    EXPECT_TRUE(
        waitForValue(name, "SELECT count(*) FROM boot WHERE v = 'hello from the leader'", "1", 20s))
        << "the write on " << leader << " did not reach " << name;
    auto ro = cluster().exec(name, "INSERT INTO boot VALUES ('must fail')");
    EXPECT_FALSE(ro.ok) << name << " accepted a write as a replica";
  }
}

struct RawResponse {
  int status = 0;
  std::string body;
};

// Sends `body` verbatim (HttpClient only sends well-formed JSON).
RawResponse rawHttp(std::uint16_t port, const std::string& method, const std::string& path,
                    const std::string& body) {
  RawResponse out;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return out;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return out;
  }
  std::string req = method + " " + path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return out;
  }
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
    resp.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  if (resp.rfind("HTTP/1.1 ", 0) == 0 && resp.size() >= 12) {
    out.status = std::stoi(resp.substr(9, 3));
  }
  if (auto end = resp.find("\r\n\r\n"); end != std::string::npos) {
    out.body = resp.substr(end + 4);
  }
  return out;
}

TEST_F(HaClusterTest, BadApiRequestsAreRefusedWithPreciseMessages) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::uint16_t port = cluster().node(leader).api_port;

  auto malformed = rawHttp(port, "POST", "/switchover", "{\"leader\": ");
  EXPECT_EQ(malformed.status, 400) << malformed.body;
  EXPECT_NE(malformed.body.find("not valid JSON"), std::string::npos) << malformed.body;

  auto no_candidate = cluster().api(leader, "POST", "/failover", json::object());
  ASSERT_TRUE(no_candidate) << no_candidate.message();
  EXPECT_EQ(no_candidate->status, 400) << no_candidate->body;
  EXPECT_NE(no_candidate->body.find("candidate"), std::string::npos) << no_candidate->body;

  auto unknown = cluster().api(leader, "POST", "/switchover",
                               {{"leader", leader}, {"candidate", "no-such-member"}});
  ASSERT_TRUE(unknown) << unknown.message();
  EXPECT_EQ(unknown->status, 412) << unknown->body;
  EXPECT_NE(unknown->body.find("no-such-member"), std::string::npos) << unknown->body;

  auto bad_key = cluster().api(leader, "PATCH", "/config", {{"no_such_setting", 1}});
  ASSERT_TRUE(bad_key) << bad_key.message();
  EXPECT_EQ(bad_key->status, 400) << bad_key->body;
  EXPECT_NE(bad_key->body.find("no_such_setting"), std::string::npos) << bad_key->body;

  // None of this may disturb the cluster.
  EXPECT_EQ(cluster().leader(), leader);
  auto cfg = cluster().api(leader, "GET", "/config");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->body.find("no_such_setting"), std::string::npos) << cfg->body;
}

struct EtcdStatus {
  std::uint64_t member_id = 0;
  std::uint64_t leader_id = 0;
};

std::optional<EtcdStatus> etcdStatus(std::uint16_t client_port) {
  auto r = runCommand(
      {.argv = {"/usr/bin/etcdctl", "--endpoints=http://127.0.0.1:" + std::to_string(client_port),
                "--command-timeout=3s", "endpoint", "status", "-w", "json"},
       .env_overrides = {{"ETCDCTL_API", "3"}}},
      10s);
  if (!r) {
    return std::nullopt;
  }
  auto j = json::parse(r->output, nullptr, false);
  if (!j.is_array() || j.empty()) {
    return std::nullopt;
  }
  const auto& st = j.front().value("Status", json::object());
  EtcdStatus out;
  out.member_id = st.value("header", json::object()).value("member_id", std::uint64_t{0});
  out.leader_id = st.value("leader", std::uint64_t{0});
  return out;
}

// Stops `victim`'s embedded etcd for `pause` and checks that Keel neither elects another
// leader nor starts a new timeline meanwhile.
void expectNoFailoverWhileEtcdStopped(KeelCluster& kc, const std::string& victim,
                                      std::chrono::milliseconds pause) {
  auto before = kc.cluster();
  ASSERT_TRUE(before);
  std::string leader = kc.leader();
  ASSERT_FALSE(leader.empty());
  int timeline = leaderTimeline(*before);
  auto hist_before = kc.api(leader, "GET", "/history");
  ASSERT_TRUE(hist_before && hist_before->status == 200);
  auto hist_size = hist_before->json().value_or(json::array()).size();

  std::size_t log_offset = fileSize(kc.node(leader).log_path);
  pid_t etcd = kc.etcdPid(victim);
  ASSERT_GT(etcd, 0) << "no etcd process found for " << victim;
  WritableSampler sampler(kc, 100ms);
  ASSERT_EQ(kill(etcd, SIGSTOP), 0);
  std::set<std::string> leaders_seen;
  auto until = std::chrono::steady_clock::now() + pause;
  while (std::chrono::steady_clock::now() < until) {
    if (auto c = kc.cluster(leader)) {
      for (const auto& m : c->value("members", json::array())) {
        if (m.value("role", "") == "leader") {
          leaders_seen.insert(m.value("name", ""));
        }
      }
    }
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(kill(etcd, SIGCONT), 0);
  std::string why;
  EXPECT_TRUE(kc.waitHealthy(60s, &why)) << why;
  sampler.stop();

  EXPECT_EQ(kc.leader(), leader) << "the leader changed while " << victim << "'s etcd was stopped";
  EXPECT_EQ(leaders_seen, std::set<std::string>{leader});
  auto after = kc.cluster();
  ASSERT_TRUE(after);
  EXPECT_EQ(leaderTimeline(*after), timeline) << describeCluster(*after);
  auto hist_after = kc.api(leader, "GET", "/history");
  ASSERT_TRUE(hist_after && hist_after->status == 200);
  EXPECT_EQ(hist_after->json().value_or(json::array()).size(), hist_size) << hist_after->body;
  EXPECT_LE(sampler.max(), 1) << sampler.violations();
  auto log = readFrom(kc.node(leader).log_path, log_offset);
  EXPECT_EQ(log.find("fencing:"), std::string::npos)
      << "the leader fenced itself while " << victim << "'s etcd was stopped:\n"
      << testsupport::fileTail(kc.node(leader).log_path, 40);
}

// A primary that stops answering for a while (here its postmaster is frozen, so new connections
// hang; under heavy load they time out the same way) is waited for: the agent neither starts a
// second postmaster nor fences the first one when it answers again.
TEST_F(HaClusterTest, AnUnresponsiveLeaderPostgresIsWaitedForNotRestarted) {
  KeelCluster& kc = cluster();
  std::string leader = kc.leader();
  ASSERT_FALSE(leader.empty());
  pid_t pm = kc.postmasterPid(leader);
  ASSERT_GT(pm, 0);
  std::size_t log_offset = fileSize(kc.node(leader).log_path);
  ASSERT_EQ(kill(pm, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{pm};
  std::this_thread::sleep_for(6s);
  ASSERT_EQ(kill(pm, SIGCONT), 0);
  std::string why;
  EXPECT_TRUE(kc.waitHealthy(60s, &why)) << why;
  EXPECT_EQ(kc.leader(), leader);
  EXPECT_EQ(kc.postmasterPid(leader), pm) << "PostgreSQL was restarted";
  auto log = readFrom(kc.node(leader).log_path, log_offset);
  EXPECT_NE(log.find("has not answered queries"), std::string::npos) << log;
  EXPECT_EQ(log.find("fencing:"), std::string::npos) << log;
  EXPECT_EQ(log.find("starting PostgreSQL as primary failed"), std::string::npos) << log;
}

TEST_F(HaClusterTest, LosingOneEtcdMemberCausesNoFailover) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::map<std::string, EtcdStatus> status;
  for (const auto& name : cluster().names()) {
    auto st = etcdStatus(cluster().node(name).etcd_client);
    ASSERT_TRUE(st) << "etcdctl endpoint status failed for " << name;
    status[name] = *st;
  }
  auto raftLeaderOf = [&](std::uint64_t id) {
    for (const auto& [name, st] : status) {
      if (st.member_id == id) {
        return name;
      }
    }
    return std::string();
  };
  std::string raft_leader = raftLeaderOf(status.begin()->second.leader_id);
  std::cout << "[ info     ] keel leader " << leader << ", etcd raft leader " << raft_leader
            << "\n";

  // A replica's etcd member that is not the raft leader: only that agent loses its own endpoint.
  std::string replica_victim;
  for (const auto& name : cluster().names()) {
    if (name != leader && name != raft_leader) {
      replica_victim = name;
      break;
    }
  }
  ASSERT_FALSE(replica_victim.empty());
  SCOPED_TRACE("stopping the etcd member of replica " + replica_victim);
  expectNoFailoverWhileEtcdStopped(cluster(), replica_victim, 10s);
  if (HasFatalFailure()) {
    return;
  }

  // The leader's own etcd member: its agent must carry on through the other client_urls.
  // Keel keeps raft leadership off the leader's host (next test), so stopping this member
  // costs no etcd election.
  ASSERT_TRUE(waitFor(
      [&] {
        auto st = etcdStatus(cluster().node(leader).etcd_client);
        return st && st->leader_id != 0 && st->leader_id != st->member_id;
      },
      15s))
      << "etcd raft leadership stayed on the leader's host " << leader;
  SCOPED_TRACE("stopping the etcd member of the leader " + leader);
  expectNoFailoverWhileEtcdStopped(cluster(), leader, 10s);
}

// When the leader's own etcd member leads raft, losing that host would cost an etcd election
// and the new raft leader's lease extension on top of the lease TTL. The leader hands raft
// leadership to another member instead, without a failover or a fence.
TEST_F(HaClusterTest, TheLeaderMovesEtcdRaftLeadershipOffItsHost) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::size_t log_offset = fileSize(cluster().node(leader).log_path);
  auto own = etcdStatus(cluster().node(leader).etcd_client);
  ASSERT_TRUE(own);
  ASSERT_TRUE(waitFor(
      [&] {
        auto st = etcdStatus(cluster().node(leader).etcd_client);
        return st && st->leader_id != 0 && st->leader_id != st->member_id;
      },
      15s))
      << "etcd raft leadership stayed on the leader's host " << leader;

  // Put raft leadership back on the leader's member, through the member that leads now.
  std::string raft_leader;
  for (const auto& name : cluster().names()) {
    auto st = etcdStatus(cluster().node(name).etcd_client);
    if (st && st->leader_id == st->member_id) {
      raft_leader = name;
    }
  }
  ASSERT_FALSE(raft_leader.empty());
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(own->member_id));
  auto moved = runCommand({.argv = {"/usr/bin/etcdctl",
                                    "--endpoints=http://127.0.0.1:" +
                                        std::to_string(cluster().node(raft_leader).etcd_client),
                                    "move-leader", hex},
                           .env_overrides = {{"ETCDCTL_API", "3"}}},
                          15s);
  ASSERT_TRUE(moved) << moved.message();

  ASSERT_TRUE(waitFor(
      [&] {
        return readFrom(cluster().node(leader).log_path, log_offset)
                   .find("etcd raft leadership moved to member") != std::string::npos;
      },
      15s))
      << "the leader did not move raft leadership away:\n"
      << testsupport::fileTail(cluster().node(leader).log_path, 40);
  auto st = etcdStatus(cluster().node(leader).etcd_client);
  ASSERT_TRUE(st);
  EXPECT_NE(st->leader_id, st->member_id);
  EXPECT_EQ(cluster().leader(), leader);
  auto log = readFrom(cluster().node(leader).log_path, log_offset);
  EXPECT_EQ(log.find("fencing:"), std::string::npos)
      << "moving raft leadership made the leader fence itself:\n"
      << testsupport::fileTail(cluster().node(leader).log_path, 40);
}

}  // namespace

}  // namespace keel::hatest
