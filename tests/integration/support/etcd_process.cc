#include "integration/support/etcd_process.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "dcs/http_exchange.h"

namespace keel::testsupport {

bool etcdAnswers(const std::string& client_url, std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  bool answered = false;
  auto probe = [](std::string url, std::chrono::milliseconds t,
                  bool* out) -> boost::asio::awaitable<void> {
    auto ep = dcs::http::parseEndpoint(url);
    auto r = co_await dcs::http::exchange(co_await boost::asio::this_coro::executor, ep,
                                          "/v3/kv/range", R"({"key":"AA=="})", t);
    *out = r.ok() && r->status == 200;
  };
  boost::asio::co_spawn(io, probe(client_url, timeout, &answered), boost::asio::detached);
  io.run();
  return answered;
}

EtcdProcess::EtcdProcess() {
  auto ports = freeLoopbackPorts(2);
  client_port_ = ports[0];
  peer_port_ = ports[1];
  log_path_ = dir_.sub("etcd.log");
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  SpawnOptions options;
  options.argv = {"/usr/bin/etcd",
                  "--name=test",
                  "--data-dir=" + dir_.sub("data"),
                  "--listen-client-urls=" + clientUrl(),
                  "--advertise-client-urls=" + clientUrl(),
                  "--listen-peer-urls=" + peer,
                  "--initial-advertise-peer-urls=" + peer,
                  "--initial-cluster=test=" + peer,
                  "--initial-cluster-token=keel-test",
                  "--logger=zap",
                  "--log-outputs=stderr"};
  options.output_path = log_path_;
  options.parent_death_signal = SIGKILL;
  auto child = ChildProcess::spawn(options);
  if (!child) {
    error_ = "cannot start etcd: " + child.message();
    return;
  }
  child_ = std::move(*child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto status = child_.tryWait()) {
      error_ =
          "etcd " + describeWaitStatus(*status) + " during start-up; log:\n" + fileTail(log_path_);
      return;
    }
    if (etcdAnswers(clientUrl(), std::chrono::milliseconds(500))) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = "etcd did not answer within 20 s; log:\n" + fileTail(log_path_);
}

EtcdProcess::~EtcdProcess() {
  child_.signal(SIGCONT);
  child_.signal(SIGKILL);
  child_.waitFor(std::chrono::seconds(10));
}

}  // namespace keel::testsupport
