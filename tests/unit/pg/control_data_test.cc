#include "pg/control_data.h"

#include <gtest/gtest.h>

namespace keel::pg {
namespace {

// pg_controldata (PostgreSQL 15) output with LC_ALL=C, abridged in the middle.
constexpr const char* kPrimaryOutput = R"(pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7305623791427348797
Database cluster state:               in production
pg_control last modified:             Sat 23 Nov 2024 03:33:59 PM UTC
Latest checkpoint location:           0/3000060
Latest checkpoint's REDO location:    0/3000028
Latest checkpoint's REDO WAL file:    000000010000000000000003
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:735
Time of latest checkpoint:            Sat 23 Nov 2024 03:33:59 PM UTC
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
wal_level setting:                    replica
Data page checksum version:           1
Mock authentication nonce:            5c2c1bbd1d4e8f0b7f0b4bc2bd4f1fc5d28c1c1ab1a4f9d6e7f2e3f8c3f5a6b7
)";

TEST(ControlDataTest, ParsesPrimary) {
  auto cd = parseControlData(kPrimaryOutput);
  ASSERT_TRUE(cd.ok()) << cd.message();
  EXPECT_EQ(cd->system_identifier, 7305623791427348797ULL);
  EXPECT_EQ(cd->cluster_state, "in production");
  EXPECT_FALSE(cd->cleanly_shut_down());
  EXPECT_EQ(cd->checkpoint_location.str(), "0/3000060");
  EXPECT_EQ(cd->redo_location.str(), "0/3000028");
  EXPECT_EQ(cd->timeline, 1);
  EXPECT_EQ(cd->min_recovery_end.value, 0u);
  EXPECT_EQ(cd->min_recovery_end_timeline, 0);
}

TEST(ControlDataTest, ParsesStandbyShutDown) {
  const char* text = R"(Database system identifier:           42
Database cluster state:               shut down in recovery
Latest checkpoint location:           16/B374D848
Latest checkpoint's REDO location:    16/B374D810
Latest checkpoint's TimeLineID:       3
Minimum recovery ending location:     16/B3800000
Min recovery ending loc's timeline:   3
)";
  auto cd = parseControlData(text);
  ASSERT_TRUE(cd.ok()) << cd.message();
  EXPECT_EQ(cd->system_identifier, 42u);
  EXPECT_TRUE(cd->cleanly_shut_down());
  EXPECT_EQ(cd->checkpoint_location.str(), "16/B374D848");
  EXPECT_EQ(cd->timeline, 3);
  EXPECT_EQ(cd->min_recovery_end.str(), "16/B3800000");
  EXPECT_EQ(cd->min_recovery_end_timeline, 3);
}

TEST(ControlDataTest, RejectsIncompleteOrForeignOutput) {
  EXPECT_FALSE(parseControlData("").ok());
  EXPECT_FALSE(parseControlData("pg_controldata: fatal: could not open file").ok());
  // Truncated before the checkpoint fields.
  EXPECT_FALSE(parseControlData("Database system identifier: 1\n"
                                "Database cluster state: shut down\n")
                   .ok());
  // Localized (German) output must not be half-read.
  EXPECT_FALSE(parseControlData("Datenbanksystemidentifikation: 1\n").ok());
  auto bad = parseControlData(
      "Database system identifier: x12\nDatabase cluster state: shut down\n"
      "Latest checkpoint location: 0/1\nLatest checkpoint's REDO location: 0/1\n"
      "Latest checkpoint's TimeLineID: 1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), PgErrc::command_failed);
  EXPECT_NE(bad.message().find("system identifier"), std::string::npos);
}

TEST(TimelineHistoryTest, ParsesLines) {
  auto h = parseTimelineHistory(
      "1\t0/3000000\tno recovery target specified\n"
      "\n"
      "# comment\n"
      "2\t0/5000A28\tno recovery target specified\n");
  ASSERT_TRUE(h.ok()) << h.message();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].first, 1);
  EXPECT_EQ((*h)[0].second.str(), "0/3000000");
  EXPECT_EQ((*h)[1].first, 2);
  EXPECT_EQ((*h)[1].second.str(), "0/5000A28");
}

TEST(TimelineHistoryTest, AcceptsLineWithoutReasonAndEmptyFile) {
  auto h = parseTimelineHistory("1\t0/3000000");
  ASSERT_TRUE(h.ok()) << h.message();
  ASSERT_EQ(h->size(), 1u);
  EXPECT_TRUE(parseTimelineHistory("").ok());
}

TEST(TimelineHistoryTest, RejectsDamagedLines) {
  EXPECT_FALSE(parseTimelineHistory("garbage\n").ok());
  EXPECT_FALSE(parseTimelineHistory("x\t0/1\treason\n").ok());
  EXPECT_FALSE(parseTimelineHistory("1\tnot-an-lsn\treason\n").ok());
  EXPECT_FALSE(parseTimelineHistory("0\t0/1\treason\n").ok());
}

}  // namespace
}  // namespace keel::pg
