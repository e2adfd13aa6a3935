#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "api/router.h"
#include "fake_backend.h"

namespace keel::api {
namespace {

using namespace testing;

class MetricsBackend : public FakeBackend {
 public:
  std::string extra;
  std::string extraMetrics() const override { return extra; }
};

class MetricsTest : public ::testing::Test {
 protected:
  MetricsBackend backend;
  Router router{backend, std::nullopt, [] { return kNow; }};

  std::string get() {
    auto r = call(router, request("GET", "/metrics"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << r.content_type;
    return r.body;
  }

  static bool hasLine(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      if (l == line) {
        return true;
      }
    }
    return false;
  }
};

const std::string kNode1 = "{scope=\"demo\",name=\"node1\"}";
const std::string kNode2 = "{scope=\"demo\",name=\"node2\"}";

TEST_F(MetricsTest, PatroniNamesOnTheLeader) {
  backend.snap = leaderSnapshot();
  std::string body = get();
  for (const std::string& line : std::vector<std::string>{
           "patroni_version" + kNode1 + " 000100",
           "patroni_postgres_running" + kNode1 + " 1",
           "patroni_postmaster_start_time" + kNode1 + " 1699999900",
           "patroni_primary" + kNode1 + " 1",
           "patroni_master" + kNode1 + " 1",
           "patroni_xlog_location" + kNode1 + " 50331744",
           "patroni_standby_leader" + kNode1 + " 0",
           "patroni_replica" + kNode1 + " 0",
           "patroni_sync_standby" + kNode1 + " 0",
           "patroni_xlog_received_location" + kNode1 + " 0",
           "patroni_xlog_replayed_location" + kNode1 + " 0",
           "patroni_postgres_timeline" + kNode1 + " 3",
           "patroni_cluster_unlocked" + kNode1 + " 0",
           "patroni_is_paused" + kNode1 + " 0",
           "# TYPE patroni_xlog_location counter",
           "# TYPE patroni_primary gauge",
       }) {
    EXPECT_TRUE(hasLine(body, line)) << line << "\n" << body;
  }
}

TEST_F(MetricsTest, ReplicaPositionsAndPause) {
  backend.snap = replicaSnapshot(0);
  backend.snap.self.received_position = "0/3000100";
  backend.snap.paused = true;
  backend.snap.leader.reset();
  std::string body = get();
  EXPECT_TRUE(hasLine(body, "patroni_primary" + kNode2 + " 0")) << body;
  EXPECT_TRUE(hasLine(body, "patroni_replica" + kNode2 + " 1"));
  EXPECT_TRUE(hasLine(body, "patroni_xlog_location" + kNode2 + " 0"));
  EXPECT_TRUE(hasLine(body, "patroni_xlog_received_location" + kNode2 + " 50331904"));
  EXPECT_TRUE(hasLine(body, "patroni_xlog_replayed_location" + kNode2 + " 50331744"));
  EXPECT_TRUE(hasLine(body, "patroni_is_paused" + kNode2 + " 1"));
  EXPECT_TRUE(hasLine(body, "patroni_cluster_unlocked" + kNode2 + " 1"));
}

TEST_F(MetricsTest, StoppedPostgres) {
  backend.snap = stoppedSnapshot();
  std::string body = get();
  EXPECT_TRUE(hasLine(body, "patroni_postgres_running" + kNode2 + " 0")) << body;
  EXPECT_TRUE(hasLine(body, "patroni_postmaster_start_time" + kNode2 + " 0"));
  EXPECT_TRUE(hasLine(body, "patroni_replica" + kNode2 + " 0"));
  EXPECT_TRUE(hasLine(body, "patroni_postgres_timeline" + kNode2 + " 0"));
}

TEST_F(MetricsTest, BackendExtraIsAppended) {
  backend.snap = leaderSnapshot();
  backend.extra = "# TYPE keel_proxy_paused gauge\nkeel_proxy_paused 0\n";
  std::string body = get();
  EXPECT_NE(body.find("patroni_is_paused"), std::string::npos);
  EXPECT_EQ(body.substr(body.size() - backend.extra.size()), backend.extra);
}

TEST_F(MetricsTest, HeadAndMethods) {
  backend.snap = leaderSnapshot();
  auto head = call(router, request("HEAD", "/metrics"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  auto post = call(router, request("POST", "/metrics"));
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["Allow"], "GET, HEAD, OPTIONS");
}

}  // namespace
}  // namespace keel::api
