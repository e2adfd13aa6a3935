#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "pgwire/scram_key_cache.h"
#include "proxy/cancel_registry.h"
#include "proxy/credentials.h"
#include "proxy/parameter_set.h"
#include "proxy/route_table.h"
#include "proxy/server_pool.h"

namespace keel::proxy {

enum class Listener { rw, ro };
const char* toString(Listener l);

// What SHOW CLIENTS and the failover logic need to know about one client session.
struct SessionInfo {
  std::string user;
  std::string database;
  std::string address;  // client IP
  std::uint16_t port = 0;
  std::string application_name;
  std::string state = "login";  // login, waiting, active, closing
  std::string server;           // member name of the server it uses, or ""
  std::string server_endpoint;  // "host:port"
  std::uint64_t server_id = 0;  // ServerConnection::id(), 0 when none
  bool tls = false;
  double connect_time = 0;  // epoch seconds
};

// One client session as seen from other threads: its executor, and a way to end it.
class SessionHandle : public std::enable_shared_from_this<SessionHandle> {
 public:
  SessionHandle(std::uint64_t id, Listener listener, boost::asio::any_io_executor ex)
      : id_(id), listener_(listener), ex_(std::move(ex)) {}

  std::uint64_t id() const { return id_; }
  Listener listener() const { return listener_; }
  SessionInfo info() const {
    std::lock_guard lock(mu_);
    return info_;
  }
  template <typename Fn>
  void update(Fn&& fn) {
    std::lock_guard lock(mu_);
    fn(info_);
  }

  // Any thread: ends the session with a FATAL 57P01 carrying `reason` (its server connection is
  // closed, so a relay in progress stops at once). Idempotent.
  void terminate(std::string reason);

  // Session thread only: the server socket while relaying (terminate() closes it) and the
  // reason terminate() gave.
  void setServerSocket(boost::asio::ip::tcp::socket* socket) { server_socket_ = socket; }
  const std::string& killReason() const { return kill_reason_; }
  bool killed() const { return !kill_reason_.empty(); }

 private:
  const std::uint64_t id_;
  const Listener listener_;
  boost::asio::any_io_executor ex_;
  mutable std::mutex mu_;
  SessionInfo info_;
  boost::asio::ip::tcp::socket* server_socket_ = nullptr;  // session thread
  std::string kill_reason_;                                // session thread
};

class SessionRegistry {
 public:
  void add(const std::shared_ptr<SessionHandle>& s);
  void remove(std::uint64_t id);
  std::vector<std::shared_ptr<SessionHandle>> all() const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<SessionHandle>> sessions_;
};

// Databases paused one by one with the admin console's PAUSE db. Thread-safe.
class PausedDatabases {
 public:
  void add(const std::string& database) {
    std::lock_guard lock(mu_);
    names_.insert(database);
    any_ = true;
  }
  void remove(const std::string& database) {
    std::lock_guard lock(mu_);
    names_.erase(database);
    any_ = !names_.empty();
  }
  void clear() {
    std::lock_guard lock(mu_);
    names_.clear();
    any_ = false;
  }
  // Asked on every borrow: no lock while nothing is paused (nearly always).
  bool contains(const std::string& database) const {
    if (!any_.load(std::memory_order_acquire)) {
      return false;
    }
    std::lock_guard lock(mu_);
    return names_.count(database) != 0;
  }
  std::set<std::string> names() const {
    std::lock_guard lock(mu_);
    return names_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> names_;
  std::atomic<bool> any_{false};
};

// Everything client sessions share. Owned by ProxyServer; outlives every session.
struct ProxyContext {
  ProxyContext(std::shared_ptr<const Config> cfg, boost::asio::any_io_executor crypto_ex);

  // The current configuration. A reload stores a new snapshot; every earlier one stays alive
  // (retainConfig), so a session may hold references into the snapshot it read. proxy() reads a
  // plain pointer to the current one: it is asked several times per transaction, on every
  // worker thread, and must cost no reference count.
  const ProxyConfig& proxy() const { return current_.load(std::memory_order_acquire)->proxy; }
  std::shared_ptr<const Config> currentConfig() const { return config.load(); }
  void retainConfig(std::shared_ptr<const Config> next);
  std::shared_ptr<const Userlist> users() const { return userlist.load(); }
  std::shared_ptr<boost::asio::ssl::context> tlsContext() const { return tls.load(); }

  std::atomic<std::shared_ptr<const Config>> config;
  RouteBoard routes;
  PoolRegistry pools;
  CancelRegistry cancels;
  pgwire::ScramKeyCache keys;
  std::string mock_key;  // random per process (pgwire::ScramServer::mock)
  boost::asio::any_io_executor crypto;
  std::atomic<std::shared_ptr<boost::asio::ssl::context>> tls;  // null: client TLS disabled
  std::atomic<std::shared_ptr<const Userlist>> userlist;
  SessionRegistry sessions;
  // The parameter lists transaction-mode clients hold, one copy of each (their settings and the
  // ParameterStatus values they were sent are mostly alike).
  ParameterSets parameter_sets;
  std::atomic<int> clients{0};
  std::atomic<std::uint64_t> next_session_id{1};
  std::atomic<bool> paused{false};  // admin PAUSE: no new server work is started
  // Switchover pauses of the read-write routes (RouteTable::rw_paused until a leader is routed
  // to again), as this proxy saw them: how many, and the last one's length.
  std::atomic<std::uint64_t> switchover_pauses{0};
  std::atomic<std::uint64_t> last_switchover_pause_us{0};
  PausedDatabases paused_databases;  // admin PAUSE db
  // Whether new clients of `database` must wait before they get a server (PAUSE, PAUSE db).
  bool pausedFor(const std::string& database) const {
    return paused.load() || paused_databases.contains(database);
  }
  // Set by the agent: re-reads its config file and applies it (admin RELOAD, like SIGHUP).
  // Returns what was applied or why nothing was.
  std::function<ProxyResult<std::string>()> reload_config;

 private:
  std::mutex retained_mu_;
  std::vector<std::shared_ptr<const Config>> retained_;
  std::atomic<const Config*> current_{nullptr};  // config's, kept alive by retained_
};

}  // namespace keel::proxy
