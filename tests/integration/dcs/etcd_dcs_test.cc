#include "dcs/etcd_dcs.h"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "common/async.h"
#include "dcs/http_exchange.h"
#include "integration/support/etcd_process.h"
#include "unit/dcs/dcs_contract.h"

namespace keel::dcs {
namespace {

using namespace std::chrono_literals;
using contract::DcsContract;
using testsupport::EtcdProcess;

// One etcd serves every test of this process (tests use disjoint key prefixes).
EtcdProcess& sharedEtcd() {
  static EtcdProcess etcd;
  return etcd;
}

std::string closedPortUrl() {
  return "http://127.0.0.1:" + std::to_string(testsupport::freeLoopbackPorts(1)[0]);
}

class EtcdHarness final : public contract::DcsHarness {
 public:
  explicit EtcdHarness(std::vector<std::string> endpoints, std::chrono::milliseconds timeout = 2s)
      : dcs_(io_.get_executor(), std::move(endpoints), timeout) {}
  Dcs& dcs() override { return dcs_; }
  boost::asio::io_context& io() override { return io_; }
  bool afterLeaseTime(std::chrono::seconds lease_time,
                      const std::function<bool()>& condition) override {
    const auto deadline = std::chrono::steady_clock::now() + 3 * lease_time;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(100ms);
    }
    return true;
  }
  EtcdDcs& etcd() { return dcs_; }

 private:
  boost::asio::io_context io_;
  EtcdDcs dcs_;
};

std::unique_ptr<contract::DcsHarness> makeEtcdHarness() {
  auto& etcd = sharedEtcd();
  if (!etcd.ok()) {
    ADD_FAILURE() << etcd.error();
    return nullptr;
  }
  return std::make_unique<EtcdHarness>(std::vector<std::string>{etcd.clientUrl()});
}

INSTANTIATE_TEST_SUITE_P(Etcd, DcsContract,
                         ::testing::Values(contract::HarnessFactory(makeEtcdHarness)));

class EtcdDcsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(sharedEtcd().ok()) << sharedEtcd().error(); }
  std::string url() const { return sharedEtcd().clientUrl(); }
};

TEST_F(EtcdDcsTest, FailsOverFromAClosedPortToTheNextEndpoint) {
  const auto closed = closedPortUrl();
  EtcdHarness h({closed, url()}, 1000ms);
  EXPECT_EQ(h.etcd().describe(), "etcd " + closed + " (endpoint 1 of 2)");
  auto put = h.run(h.dcs().put("/failover/a", "1", 0));
  ASSERT_TRUE(put.ok()) << put.message();
  EXPECT_EQ(h.etcd().describe(), "etcd " + url() + " (endpoint 2 of 2)");
  auto get = h.run(h.dcs().get("/failover/a", false));
  ASSERT_TRUE(get.ok()) << get.message();
  ASSERT_EQ(get->kvs.size(), 1u);
}

TEST_F(EtcdDcsTest, AllEndpointsDownIsUnavailableNamingEach) {
  const auto a = closedPortUrl();
  const auto b = closedPortUrl();
  EtcdHarness h({a, b}, 1000ms);
  auto get = h.run(h.dcs().get("/x", false));
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.code(), DcsErrc::unavailable);
  EXPECT_NE(get.message().find(a), std::string::npos) << get.message();
  EXPECT_NE(get.message().find(b), std::string::npos) << get.message();
  EXPECT_NE(get.message().find("refused"), std::string::npos) << get.message();
  auto watch = h.run(h.dcs().watch("/x", 1, 100ms));
  ASSERT_FALSE(watch.ok());
  EXPECT_EQ(watch.code(), DcsErrc::unavailable);
}

// A socket that listens but never reads: connects succeed, answers never come.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {}
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

TEST_F(EtcdDcsTest, RequestTimeoutIsRespected) {
  SilentServer silent;
  EtcdHarness h({silent.url()}, 500ms);
  const auto start = std::chrono::steady_clock::now();
  auto put = h.run(h.dcs().put("/t", "1", 0));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.code(), DcsErrc::timeout) << put.message();
  EXPECT_NE(put.message().find("timed out after 500 ms"), std::string::npos) << put.message();
  EXPECT_GE(elapsed, 450ms);
  EXPECT_LE(elapsed, 1500ms);
}

TEST_F(EtcdDcsTest, HungEndpointLeavesTimeForTheNextOne) {
  SilentServer silent;
  EtcdHarness h({silent.url(), url()}, 1500ms);
  auto get = h.run(h.dcs().get("/x", false));
  ASSERT_TRUE(get.ok()) << get.message();
  EXPECT_EQ(h.etcd().describe(), "etcd " + url() + " (endpoint 2 of 2)");
}

TEST_F(EtcdDcsTest, WatchWakesOnAConcurrentPut) {
  EtcdHarness h({url()});
  auto rev = h.run(h.dcs().put("/wake/seed", "0", 0));
  ASSERT_TRUE(rev.ok()) << rev.message();
  EtcdDcs writer(h.io().get_executor(), {url()}, 2s);
  auto write_later = [&]() -> boost::asio::awaitable<void> {
    co_await sleepFor(300ms);
    (void)co_await writer.put("/wake/k", "v", 0);
  };
  boost::asio::co_spawn(h.io(), write_later(), boost::asio::detached);
  const auto start = std::chrono::steady_clock::now();
  auto w = h.run(h.dcs().watch("/wake/", *rev + 1, 10s));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(w.ok()) << w.message();
  ASSERT_EQ(w->events.size(), 1u);
  EXPECT_EQ(w->events[0].kv.key, "/wake/k");
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(EtcdDcsTest, WatchWaitsForMaxWaitWhenNothingChanges) {
  EtcdHarness h({url()});
  auto rev = h.run(h.dcs().put("/idle/seed", "0", 0));
  ASSERT_TRUE(rev.ok()) << rev.message();
  const auto start = std::chrono::steady_clock::now();
  auto w = h.run(h.dcs().watch("/idle/", *rev + 1, 400ms));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(w->events.empty());
  EXPECT_EQ(w->revision, *rev);
  EXPECT_GE(elapsed, 350ms);
  EXPECT_LT(elapsed, 2s);
}

TEST_F(EtcdDcsTest, WatchFromACompactedRevisionReportsCompacted) {
  EtcdHarness h({url()});
  auto first = h.run(h.dcs().put("/compact/k", "1", 0));
  ASSERT_TRUE(first.ok());
  auto last = h.run(h.dcs().put("/compact/k", "2", 0));
  ASSERT_TRUE(last.ok());
  auto compact = [&]() -> boost::asio::awaitable<Result<http::Reply, http::HttpErrc>> {
    co_return co_await http::exchange(h.io().get_executor(), http::parseEndpoint(url()),
                                      "/v3/kv/compaction",
                                      R"({"revision":")" + std::to_string(*last) + "\"}", 2s);
  };
  auto r = h.run(compact());
  ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.message());
  auto w = h.run(h.dcs().watch("/compact/", *first, 2s));
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(w->compacted);
}

}  // namespace
}  // namespace keel::dcs
