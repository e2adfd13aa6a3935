#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy_context.h"

namespace keel::proxy {

// The proxy of one agent: the RW and RO listeners, `proxy.workers` I/O threads that run the
// client sessions (apart from the control-plane thread, so client load never delays lease
// renewal), and one thread for SCRAM key derivation.
//
// Threads: start()/stop() and updateRoutes() are called from the control-plane thread. Sessions
// run on the worker that accepted them.
class ProxyServer {
 public:
  explicit ProxyServer(std::shared_ptr<const Config> config);
  ~ProxyServer();  // stop()

  // Loads the auth_file and TLS files, binds both listeners and starts the threads. Fails with a
  // message naming the setting (a port in use, a missing file).
  ProxyResult<void> start();
  void stop();

  // A new cluster view arrived: publish the routes, and when the writable leader changed end
  // the RW sessions still on the old one (FATAL 57P01) and close idle connections to servers no
  // longer routed to.
  void updateRoutes(RouteTable table);

  // Applies a reloaded config (SIGHUP, admin RELOAD): pool sizes and timeouts, routing limits,
  // hba rules, auth settings, the auth_file and the TLS files take effect for new work without
  // dropping established sessions. Listen addresses and the worker count need a restart; the
  // returned notes say so. Fails, changing nothing, when the auth_file or TLS files are bad.
  ProxyResult<std::vector<std::string>> reload(std::shared_ptr<const Config> next);

  ProxyContext& context() { return *ctx_; }
  std::uint16_t rwPort() const { return rw_port_; }
  std::uint16_t roPort() const { return ro_port_; }

 private:
  boost::asio::awaitable<void> acceptLoop(boost::asio::ip::tcp::acceptor& acceptor,
                                          Listener listener);
  boost::asio::awaitable<void> janitor();
  boost::asio::any_io_executor nextWorker();

  std::shared_ptr<const Config> config_;
  boost::asio::thread_pool crypto_{1};
  std::unique_ptr<ProxyContext> ctx_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> rw_acceptor_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> ro_acceptor_;
  std::uint16_t rw_port_ = 0;
  std::uint16_t ro_port_ = 0;
  std::atomic<std::size_t> next_worker_{0};
  std::atomic<bool> stopping_{false};
  std::optional<RouteTarget> last_leader_;  // control thread
  // When the read-write routes were paused for a switchover (control thread).
  std::optional<std::chrono::steady_clock::time_point> pause_started_;
  std::mutex reload_mu_;  // SIGHUP (control thread) and RELOAD (a worker)
};

}  // namespace keel::proxy
