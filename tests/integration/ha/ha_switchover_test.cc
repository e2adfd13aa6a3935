// A planned switchover while a client keeps writing: no acknowledged write may be lost.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "integration/ha/ha_test_fixture.h"

namespace keel::hatest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Inserts ids 1, 2, ... in autocommit through a read-write conninfo until stopped. An id whose
// INSERT succeeded is acknowledged; an id whose INSERT failed has an unknown outcome and is
// not retried (a retry could not tell a lost write from a committed one).
class Writer {
 public:
  explicit Writer(std::string conninfo) : conninfo_(std::move(conninfo)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Writer() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::size_t ackedCount() const {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::vector<int> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  int failures() const { return failures_.load(); }
  int connectFailures() const { return connect_failures_.load(); }
  std::string lastError() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  void run() {
    std::unique_ptr<SqlConnection> conn;
    int id = 1;
    while (!stop_.load()) {
      if (!conn || !conn->ok()) {
        conn = std::make_unique<SqlConnection>(conninfo_);
        if (!conn->ok()) {
          ++connect_failures_;
          remember(conn->error());
          conn.reset();
          std::this_thread::sleep_for(100ms);
          continue;
        }
      }
      auto r = conn->exec("INSERT INTO sw(id) VALUES (" + std::to_string(id) + ")");
      if (r.ok) {
        std::lock_guard lock(mu_);
        acked_.push_back(id);
      } else {
        ++failures_;
        remember(r.error);
        conn.reset();
      }
      ++id;
      std::this_thread::sleep_for(5ms);
    }
  }
  void remember(const std::string& e) {
    std::lock_guard lock(mu_);
    last_error_ = e;
  }

  std::string conninfo_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::atomic<int> connect_failures_{0};
  mutable std::mutex mu_;
  std::vector<int> acked_;
  std::string last_error_;
  std::thread thread_;
};

TEST_F(HaClusterTest, SwitchoverUnderWriteLoadLosesNoAcknowledgedWrite) {
  std::string old_leader = cluster().leader();
  ASSERT_FALSE(old_leader.empty());
  std::string candidate = someReplica(old_leader);
  auto ddl =
      cluster().exec(old_leader, "DROP TABLE IF EXISTS sw; CREATE TABLE sw(id int PRIMARY KEY)");
  ASSERT_TRUE(ddl.ok) << ddl.error;
  ASSERT_TRUE(waitForValue(candidate, "SELECT to_regclass('sw') IS NOT NULL", "t", 20s));

  WritableSampler sampler(cluster(), 100ms);
  Writer writer(cluster().readWriteConninfo(2));
  ASSERT_TRUE(waitFor([&] { return writer.ackedCount() >= 50; }, 20s))
      << "the writer got no acknowledgements: " << writer.lastError();

  auto started = std::chrono::steady_clock::now();
  auto r = cluster().api(old_leader, "POST", "/switchover",
                         {{"leader", old_leader}, {"candidate", candidate}}, 90s);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->status, 200) << r->body;
  std::cout << "[ info     ] switchover " << old_leader << " -> " << candidate << " answered "
            << r->status << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms: " << r->body << "\n";
  ASSERT_TRUE(waitFor([&] { return cluster().leader() == candidate; }, 30s))
      << "leader is " << cluster().leader();
  std::string why;
  EXPECT_TRUE(cluster().waitHealthy(90s, &why)) << why;

  std::size_t acked_at_switch = writer.ackedCount();
  EXPECT_TRUE(waitFor([&] { return writer.ackedCount() >= acked_at_switch + 50; }, 30s))
      << "writes did not resume on the new primary: " << writer.lastError();
  writer.stop();
  sampler.stop();
  EXPECT_LE(sampler.max(), 1) << sampler.violations();

  auto rows = cluster().exec(candidate, "SELECT id FROM sw");
  ASSERT_TRUE(rows.ok) << rows.error;
  std::set<int> present;
  for (const auto& row : rows.rows) {
    present.insert(std::stoi(row.front().value_or("0")));
  }
  auto acked = writer.acked();
  std::vector<int> lost;
  for (int id : acked) {
    if (!present.count(id)) {
      lost.push_back(id);
    }
  }
  std::cout << "[ info     ] writer: " << acked.size() << " acknowledged, " << writer.failures()
            << " failed inserts, " << writer.connectFailures() << " failed connects\n";
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged ids missing on " << candidate
                            << ", first: " << lost.front();

  auto c = cluster().cluster();
  ASSERT_TRUE(c);
  EXPECT_EQ(memberRole(*c, old_leader), "replica") << describeCluster(*c);
  EXPECT_EQ(memberState(*c, old_leader), "streaming") << describeCluster(*c);
  EXPECT_EQ(memberTimeline(*c, old_leader), leaderTimeline(*c)) << describeCluster(*c);
  // A clean switchover leaves the old primary on the new leader's history: it follows as it is,
  // without pg_rewind and never by copying everything again (even if it looked before the
  // candidate finished promoting).
  {
    std::ifstream in(cluster().node(old_leader).log_path);
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string mark = "rejoined as a replica of " + candidate;
    auto at = log.rfind(mark);
    ASSERT_NE(at, std::string::npos) << cluster().logTails();
    std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find("(no rewind needed)"), std::string::npos) << line;
  }

  auto h = history(candidate);
  ASSERT_TRUE(h.is_array() && !h.empty()) << h.dump();
  const auto& last = h.back();
  ASSERT_TRUE(last.is_array() && last.size() >= 5) << h.dump();
  std::string reason = last[2].get<std::string>();
  std::transform(reason.begin(), reason.end(), reason.begin(), ::tolower);
  EXPECT_NE(reason.find("switchover"), std::string::npos) << h.dump();
  EXPECT_EQ(last[4], candidate) << h.dump();
}

}  // namespace
}  // namespace keel::hatest
