#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "integration/ha/keel_cluster.h"

namespace keel::hatest {

// Polls `condition` every `period` until it holds or `timeout` passes; returns whether it held.
bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds period = std::chrono::milliseconds(200));

// Fields of a /cluster document: the leader's timeline, a member's timeline, state and role
// (0 or "" when absent).
int leaderTimeline(const nlohmann::json& cluster);
int memberTimeline(const nlohmann::json& cluster, const std::string& name);
std::string memberState(const nlohmann::json& cluster, const std::string& name);
std::string memberRole(const nlohmann::json& cluster, const std::string& name);

// Bytes of `path` from `offset` on, to look at what a log gained during a step.
std::string readFrom(const std::string& path, std::size_t offset);
std::size_t fileSize(const std::string& path);

// Counts writable primaries on a background thread every `period` until stopped, remembering
// the highest count and when it was seen. Split brain shows up as max() >= 2.
class WritableSampler {
 public:
  WritableSampler(const KeelCluster& cluster, std::chrono::milliseconds period);
  ~WritableSampler();
  void stop();
  int max() const { return max_.load(); }
  int samples() const { return samples_.load(); }
  std::string violations() const;

 private:
  const KeelCluster& cluster_;
  std::chrono::milliseconds period_;
  std::atomic<bool> stop_{false};
  std::atomic<int> max_{0};
  std::atomic<int> samples_{0};
  mutable std::mutex mu_;
  std::string violations_;
  std::thread thread_;
};

// Removes `key` from the cluster's dynamic configuration when it goes out of scope, whatever the
// test did meanwhile, so the next test starts from the defaults (through the first member whose
// REST API takes the change).
struct DynamicConfigReset {
  KeelCluster& cluster;
  std::string key;
  ~DynamicConfigReset();
};

// One three-member cluster shared by the tests of this suite, bootstrapped once. Each test
// starts from a healthy cluster (dead agents are restarted first) and may leave it changed
// (another leader, a member stopped); the next test's SetUp repairs that.
class HaClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  static KeelCluster& cluster() { return *cluster_; }
  // A member a test killed and left down for the rejoin test, which SetUp must not restart.
  static std::string& leftDown() { return left_down_; }
  // Bootstrap outcome, for the bootstrap test.
  static std::chrono::milliseconds bootstrapTime() { return bootstrap_time_; }
  static const std::string& bootstrapError() { return bootstrap_error_; }

  // Helpers shared by the test files.
  static nlohmann::json history(const std::string& member);
  // A replica of the current leader, different from `other` when given.
  static std::string someReplica(const std::string& leader, const std::string& other = "");
  // Waits until `sql` returns `expected` as its scalar on `member`.
  static bool waitForValue(const std::string& member, const std::string& sql,
                           const std::string& expected, std::chrono::milliseconds timeout);

 private:
  static std::unique_ptr<KeelCluster> cluster_;
  static std::chrono::milliseconds bootstrap_time_;
  static std::string bootstrap_error_;
  static std::string left_down_;
};

// The test that expects leftDown() still stopped when it starts.
inline constexpr const char* kRejoinTestName = "KilledPrimaryRejoinsAsReplicaAfterRewind";

}  // namespace keel::hatest
