#include "ha/agent_backend.h"

#include <gtest/gtest.h>

namespace keel::ha {
namespace {

using nlohmann::json;

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems) {
    if (p.find(text) != std::string::npos)
      return true;
  }
  return false;
}

TEST(DynamicConfigTest, AcceptsKnownKeys) {
  auto problems = validateDynamicConfig(json::parse(
      R"({"pause": true, "maximum_lag_on_failover": 1048576,
          "postgresql": {"parameters": {"work_mem": "64MB", "max_connections": 200,
                                        "log_checkpoints": true}}})"));
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(DynamicConfigTest, NamesEachBadField) {
  auto problems = validateDynamicConfig(json::parse(
      R"({"pause": "yes", "ttl": 3, "maximum_lag_on_failover": -1,
          "postgresql": {"parameters": {"Port": 5433, "work_mem": ["x"]}, "pg_hba": []}})"));
  EXPECT_TRUE(mentions(problems, "pause: expected true or false"));
  EXPECT_TRUE(mentions(problems, "ttl: unknown key"));
  EXPECT_TRUE(mentions(problems, "maximum_lag_on_failover: expected a number of bytes"));
  EXPECT_TRUE(mentions(problems, "postgresql.parameters.Port: managed by Keel"));
  EXPECT_TRUE(mentions(problems, "postgresql.parameters.work_mem: expected a string"));
  EXPECT_TRUE(mentions(problems, "postgresql.pg_hba: unknown key"));
  EXPECT_EQ(problems.size(), 6u);
}

TEST(DynamicConfigTest, SynchronousReplicationKeys) {
  EXPECT_TRUE(validateDynamicConfig(json::parse(R"({"synchronous_mode": "quorum",
      "synchronous_mode_strict": true, "synchronous_node_count": 2})"))
                  .empty());
  EXPECT_TRUE(validateDynamicConfig(json::parse(R"({"synchronous_mode": true})")).empty());
  auto problems = validateDynamicConfig(json::parse(
      R"({"synchronous_mode": "always", "synchronous_mode_strict": "yes",
          "synchronous_node_count": 0,
          "postgresql": {"parameters": {"synchronous_standby_names": "*"}}})"));
  EXPECT_TRUE(mentions(problems, "synchronous_mode: expected off, on or quorum"));
  EXPECT_TRUE(mentions(problems, "synchronous_mode_strict: expected true or false"));
  EXPECT_TRUE(mentions(problems, "synchronous_node_count: expected a whole number from 1"));
  EXPECT_TRUE(mentions(problems, "postgresql.parameters.synchronous_standby_names: set by Keel"));
  EXPECT_EQ(problems.size(), 4u);
}

TEST(DynamicConfigTest, FailsafeModeIsABoolean) {
  EXPECT_TRUE(validateDynamicConfig(json::parse(R"({"failsafe_mode": true})")).empty());
  auto problems = validateDynamicConfig(json::parse(R"({"failsafe_mode": "on"})"));
  EXPECT_TRUE(mentions(problems, "failsafe_mode: expected true or false"));
  EXPECT_EQ(problems.size(), 1u);
}

TEST(DynamicConfigTest, RejectsNonObject) {
  EXPECT_FALSE(validateDynamicConfig(json::array()).empty());
}

TEST(IsoTimeTest, ParsesUtcOffsetsAndFractions) {
  EXPECT_DOUBLE_EQ(*parseIsoTime("1970-01-01T00:00:10Z"), 10.0);
  EXPECT_DOUBLE_EQ(*parseIsoTime("1970-01-01T01:00:00+01:00"), 0.0);
  EXPECT_DOUBLE_EQ(*parseIsoTime("1970-01-01T00:00:00.5-00:30"), 1800.5);
  EXPECT_DOUBLE_EQ(*parseIsoTime("2026-11-23T18:00:00Z"), 1795456800.0);
}

TEST(IsoTimeTest, RejectsMalformedTimes) {
  for (const char* bad : {"", "tomorrow", "2026-13-01T00:00:00Z", "2026-11-23 18:00:00Z",
                          "2026-11-23T18:00:00+0100x", "2026-11-23T25:00:00Z"}) {
    EXPECT_FALSE(parseIsoTime(bad)) << bad;
  }
}

}  // namespace
}  // namespace keel::ha
