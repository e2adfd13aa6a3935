#include "ha/cluster_view.h"

#include <gtest/gtest.h>

namespace keel::ha {
namespace {

using json = nlohmann::json;

TEST(ClusterViewRecords, SwitchoverPauseFieldsRoundTrip) {
  FailoverRequest f;
  f.leader = "n1";
  f.candidate = "n2";
  f.requested_at = 100.5;
  EXPECT_FALSE(f.toJson().contains("paused_at")) << "absent until the leader pauses";
  f.paused_at = 101.25;
  f.final_lsn = "0/5E78D08";
  auto back = FailoverRequest::fromJson(f.toJson());
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ(back->paused_at, 101.25);
  EXPECT_EQ(back->final_lsn, "0/5E78D08");
  EXPECT_EQ(back->candidate, "n2");

  MemberRecord m;
  m.name = "n3";
  m.proxy = "127.0.0.1:6432";
  EXPECT_FALSE(m.toJson().contains("proxy_paused_at"));
  m.proxy_paused_at = 101.25;
  auto mb = MemberRecord::fromJson("n3", m.toJson());
  ASSERT_TRUE(mb);
  EXPECT_DOUBLE_EQ(mb->proxy_paused_at, 101.25);

  HistoryRecord h{.timeline = 3, .reason = "switchover", .new_leader = "n2", .kind = "switchover"};
  EXPECT_FALSE(h.toJson().contains("pause_ms"));
  h.pause_ms = 412;
  auto hb = HistoryRecord::fromJson(h.toJson());
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->pause_ms, 412);
}

TEST(ClusterViewRecords, RecordsOfOlderVersionsHaveNoPause) {
  auto f = FailoverRequest::fromJson(json{{"leader", "n1"}, {"requested_at", 5.0}});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->paused_at, 0);
  auto m = MemberRecord::fromJson("n1", json{{"role", "replica"}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->proxy_paused_at, 0);
}

}  // namespace
}  // namespace keel::ha
