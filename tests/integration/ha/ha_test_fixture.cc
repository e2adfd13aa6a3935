#include "integration/ha/ha_test_fixture.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace keel::hatest {

DynamicConfigReset::~DynamicConfigReset() {
  for (const auto& n : cluster.names()) {
    auto r = cluster.api(n, "PATCH", "/config", {{key, nullptr}});
    if (r && r->status == 200)
      break;
  }
}

using nlohmann::json;
using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds period) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(period);
  }
}

WritableSampler::WritableSampler(const KeelCluster& cluster, std::chrono::milliseconds period)
    : cluster_(cluster), period_(period) {
  thread_ = std::thread([this] {
    auto start = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      std::vector<std::string> which;
      int n = cluster_.writablePrimaries(&which);
      ++samples_;
      if (n > max_.load()) {
        max_.store(n);
      }
      if (n >= 2) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        std::lock_guard lock(mu_);
        violations_ += "at +" + std::to_string(ms.count()) + " ms writable:";
        for (const auto& w : which) {
          violations_ += " " + w;
        }
        violations_ += "\n";
      }
      std::this_thread::sleep_for(period_);
    }
  });
}

WritableSampler::~WritableSampler() {
  stop();
}

void WritableSampler::stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string WritableSampler::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::string readFrom(const std::string& path, std::size_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t fileSize(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::size_t>(n);
}

std::unique_ptr<KeelCluster> HaClusterTest::cluster_;
std::chrono::milliseconds HaClusterTest::bootstrap_time_{0};
std::string HaClusterTest::bootstrap_error_;
std::string HaClusterTest::left_down_;

void HaClusterTest::SetUpTestSuite() {
  cluster_ = std::make_unique<KeelCluster>("hatest");
  auto start = std::chrono::steady_clock::now();
  if (!cluster_->start()) {
    bootstrap_error_ = cluster_->error();
    return;
  }
  std::string why;
  if (!cluster_->waitHealthy(120s, &why)) {
    bootstrap_error_ = why + "\n" + cluster_->logTails();
  }
  bootstrap_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "[ cluster  ] bootstrap took " << bootstrap_time_.count() << " ms in "
            << cluster_->dir() << "\n";
}

void HaClusterTest::TearDownTestSuite() {
  cluster_.reset();
}

void HaClusterTest::SetUp() {
  ASSERT_TRUE(cluster_);
  ASSERT_TRUE(bootstrap_error_.empty()) << "bootstrap failed: " << bootstrap_error_;
  for (const auto& name : cluster_->names()) {
    if (pid_t etcd = cluster_->etcdPid(name)) {
      kill(etcd, SIGCONT);
    }
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (left_down_.empty() || std::string(info->name()) != kRejoinTestName ||
      cluster_->agentRunning(left_down_)) {
    left_down_.clear();
    cluster_->restartDeadAgents();
  }
  std::string why;
  ASSERT_TRUE(cluster_->waitHealthy(120s, &why, left_down_)) << why << "\n" << cluster_->logTails();
}

void HaClusterTest::TearDown() {
  if (HasFailure()) {
    std::cout << "cluster: ";
    if (auto c = cluster_->cluster()) {
      std::cout << describeCluster(*c) << "\n";
    } else {
      std::cout << "(no answer)\n";
    }
    std::cout << cluster_->logTails(40);
  }
}

json HaClusterTest::history(const std::string& member) {
  auto r = cluster_->api(member, "GET", "/history");
  if (!r || r->status != 200) {
    return nullptr;
  }
  auto j = r->json();
  return j ? *j : json(nullptr);
}

int leaderTimeline(const json& c) {
  for (const auto& m : c.value("members", json::array())) {
    if (m.value("role", "") == "leader") {
      return m.value("timeline", 0);
    }
  }
  return 0;
}

int memberTimeline(const json& c, const std::string& name) {
  for (const auto& m : c.value("members", json::array())) {
    if (m.value("name", "") == name) {
      return m.value("timeline", 0);
    }
  }
  return 0;
}

std::string memberState(const json& c, const std::string& name) {
  for (const auto& m : c.value("members", json::array())) {
    if (m.value("name", "") == name) {
      return m.value("state", "");
    }
  }
  return "";
}

std::string memberRole(const json& c, const std::string& name) {
  for (const auto& m : c.value("members", json::array())) {
    if (m.value("name", "") == name) {
      return m.value("role", "");
    }
  }
  return "";
}

std::string HaClusterTest::someReplica(const std::string& leader, const std::string& other) {
  for (const auto& name : cluster_->names()) {
    if (name != leader && name != other) {
      return name;
    }
  }
  return "";
}

bool HaClusterTest::waitForValue(const std::string& member, const std::string& sql,
                                 const std::string& expected, std::chrono::milliseconds timeout) {
  return waitFor(
      [&] {
        auto r = cluster_->exec(member, sql);
        return r.ok && r.scalar() == expected;
      },
      timeout);
}

}  // namespace keel::hatest
