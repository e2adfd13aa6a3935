#include "dcs/embedded_etcd.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <thread>

#include "dcs/etcd_dcs.h"
#include "integration/support/test_env.h"

namespace keel::dcs {
namespace {

using namespace std::chrono_literals;

// Runs the supervisors' io_context on its own thread for the whole test. Declared before the
// members so it outlives them: their etcd children die with the thread that forked them.
class ControlThread {
 public:
  ControlThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~ControlThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Client calls from the test thread, each against one member only.
template <typename T>
T runClient(std::function<boost::asio::awaitable<T>(Dcs&)> op, const std::string& url) {
  boost::asio::io_context io;
  EtcdDcs dcs(io.get_executor(), {url}, 2s);
  std::optional<T> out;
  auto body = [&]() -> boost::asio::awaitable<void> { out.emplace(co_await op(dcs)); };
  boost::asio::co_spawn(io, body(), [](std::exception_ptr e) {
    if (e)
      std::rethrow_exception(e);
  });
  io.run();
  return std::move(*out);
}

DcsResult<std::int64_t> put(const std::string& url, const std::string& key,
                            const std::string& value) {
  return runClient<DcsResult<std::int64_t>>([&](Dcs& d) { return d.put(key, value, 0); }, url);
}

DcsResult<RangeResult> get(const std::string& url, const std::string& key) {
  return runClient<DcsResult<RangeResult>>([&](Dcs& d) { return d.get(key, false); }, url);
}

bool eventually(std::chrono::seconds bound, const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

TEST(EmbeddedEtcdTest, ThreeMembersFormOneClusterAndSurviveAMemberDying) {
  testsupport::TempDir dir("keel-embedded");
  ControlThread control;
  auto ports = testsupport::freeLoopbackPorts(6);
  std::map<std::string, std::string> cluster;
  for (int i = 0; i < 3; ++i) {
    cluster["m" + std::to_string(i)] = "http://127.0.0.1:" + std::to_string(ports[3 + i]);
  }
  std::vector<std::unique_ptr<EmbeddedEtcd>> members;
  for (int i = 0; i < 3; ++i) {
    EmbeddedEtcdConfig c;
    c.name = "m" + std::to_string(i);
    c.data_dir = dir.sub(c.name + "/etcd");
    c.listen_client = {"127.0.0.1", ports[i]};
    c.listen_peer = {"127.0.0.1", ports[3 + i]};
    c.initial_cluster = cluster;
    members.push_back(std::make_unique<EmbeddedEtcd>(c, "embedded-test", control.executor()));
  }
  for (auto& m : members) {
    auto started = m->start();
    ASSERT_TRUE(started.ok()) << started.message();
  }
  auto logs = [&] {
    std::string all;
    for (auto& m : members)
      all += m->logPath() + ":\n" + testsupport::fileTail(m->logPath());
    return all;
  };
  auto& a = *members[0];
  auto& b = *members[1];
  auto& c = *members[2];

  ASSERT_TRUE(eventually(20s, [&] { return put(a.clientUrl(), "/e/k", "from-a").ok(); })) << logs();
  auto read = get(c.clientUrl(), "/e/k");
  ASSERT_TRUE(read.ok()) << read.message();
  ASSERT_EQ(read->kvs.size(), 1u);
  EXPECT_EQ(read->kvs[0].value, "from-a");
  EXPECT_TRUE(eventually(5s, [&] { return a.healthy() && b.healthy() && c.healthy(); }));

  // SIGKILL one member: the supervisor restarts it from its data dir and it rejoins.
  const pid_t old_pid = b.pid();
  ASSERT_GT(old_pid, 0);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  EXPECT_TRUE(eventually(15s, [&] { return b.pid() > 0 && b.pid() != old_pid; })) << logs();
  EXPECT_TRUE(eventually(15s, [&] {
    auto r = get(b.clientUrl(), "/e/k");
    return r.ok() && r->kvs.size() == 1;
  })) << logs();

  // With one member stopped the other two still hold a quorum.
  c.stop();
  EXPECT_FALSE(c.healthy());
  EXPECT_EQ(c.pid(), -1);
  auto written = put(a.clientUrl(), "/e/k", "two-left");
  ASSERT_TRUE(written.ok()) << written.message();
  auto seen = get(b.clientUrl(), "/e/k");
  ASSERT_TRUE(seen.ok()) << seen.message();
  ASSERT_EQ(seen->kvs.size(), 1u);
  EXPECT_EQ(seen->kvs[0].value, "two-left");
  // A stopped member is not restarted.
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(c.pid(), -1);
  members.clear();
}

}  // namespace
}  // namespace keel::dcs
