#include "proxy/proxy_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/async.h"
#include "pgwire/message_builder.h"
#include "proxy/client_session.h"
#include "proxy/tls_context.h"
#include "proxy/wire_io.h"

namespace keel::proxy {

using asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kJanitorPeriod{1000};

ProxyResult<std::unique_ptr<tcp::acceptor>> listen(asio::io_context& io, const HostPort& address,
                                                   const char* field) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec) {
    tcp::resolver resolver(io);
    auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
    if (ec || results.empty()) {
      return fail(ProxyErrc::io, std::string("cannot resolve ") + field + " " + address.str() +
                                     ": " + ec.message());
    }
    ip = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(ip, address.port);
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return fail(
        ProxyErrc::io,
        std::string("cannot listen on ") + field + " " + address.str() + ": " + ec.message() +
            (ec == asio::error::address_in_use ? "; another process uses the port, choose another"
                                               : ""));
  }
  return acceptor;
}

}  // namespace

ProxyServer::ProxyServer(std::shared_ptr<const Config> config)
    : config_(std::move(config)),
      ctx_(std::make_unique<ProxyContext>(config_, crypto_.get_executor())) {}

ProxyServer::~ProxyServer() {
  stop();
}

ProxyResult<void> ProxyServer::start() {
  const ProxyConfig& cfg = config_->proxy;
  if (!cfg.auth_file.empty()) {
    auto users = Userlist::load(cfg.auth_file);
    if (!users) {
      return users.failure();
    }
    ctx_->userlist.store(*users);
  } else {
    ctx_->userlist.store(std::make_shared<const Userlist>());
  }
  if (cfg.client_tls.sslmode != "disable") {
    auto tls = makeClientFacingTlsContext(cfg.client_tls);
    if (!tls) {
      return tls.failure();
    }
    ctx_->tls.store(*tls);
  }
  int n = cfg.workers > 0 ? cfg.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<asio::io_context>(1));
  }
  auto rw = listen(*workers_[0], cfg.listen_rw, "proxy.listen_rw");
  if (!rw) {
    return rw.failure();
  }
  auto ro = listen(*workers_[0], cfg.listen_ro, "proxy.listen_ro");
  if (!ro) {
    return ro.failure();
  }
  rw_acceptor_ = std::move(*rw);
  ro_acceptor_ = std::move(*ro);
  rw_port_ = rw_acceptor_->local_endpoint().port();
  ro_port_ = ro_acceptor_->local_endpoint().port();
  asio::co_spawn(*workers_[0], acceptLoop(*rw_acceptor_, Listener::rw), asio::detached);
  asio::co_spawn(*workers_[0], acceptLoop(*ro_acceptor_, Listener::ro), asio::detached);
  asio::co_spawn(*workers_[0], janitor(), asio::detached);
  for (auto& w : workers_) {
    threads_.emplace_back([io = w.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  spdlog::info("proxy: read-write on {}, read-only on {}, {} worker threads, {} pooling",
               cfg.listen_rw.str(), cfg.listen_ro.str(), n, cfg.pool_mode);
  return {};
}

void ProxyServer::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  for (auto& w : workers_) {
    w->stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  rw_acceptor_.reset();
  ro_acceptor_.reset();
  // Queued clients' timers belong to the workers: drop the pools (and their queues) while the
  // workers' io_contexts still exist.
  ctx_->pools.clear();
  workers_.clear();  // destroys the sessions' coroutine frames and sockets
  crypto_.join();
}

ProxyResult<std::vector<std::string>> ProxyServer::reload(std::shared_ptr<const Config> next) {
  std::lock_guard lock(reload_mu_);
  const ProxyConfig& now = ctx_->proxy();
  const ProxyConfig& p = next->proxy;
  std::vector<std::string> notes;
  if (p.listen_rw.str() != now.listen_rw.str() || p.listen_ro.str() != now.listen_ro.str() ||
      p.workers != now.workers || p.enabled != now.enabled) {
    notes.push_back(
        "proxy.enabled, listen_rw, listen_ro and workers keep their old values until the agent "
        "restarts");
  }
  std::shared_ptr<const Userlist> users = std::make_shared<const Userlist>();
  if (!p.auth_file.empty()) {
    auto loaded = Userlist::load(p.auth_file);
    if (!loaded) {
      return loaded.failure();
    }
    users = *loaded;
  }
  std::shared_ptr<asio::ssl::context> tls;
  if (p.client_tls.sslmode != "disable") {
    auto made = makeClientFacingTlsContext(p.client_tls);
    if (!made) {
      return made.failure();
    }
    tls = *made;
  }
  ctx_->userlist.store(users);
  ctx_->tls.store(tls);
  ctx_->pools.setLimits(p.default_pool_size, p.server_lifetime);
  ctx_->retainConfig(std::move(next));
  notes.push_back("proxy settings applied (" + std::to_string(users->size()) +
                  " users in proxy.auth_file)");
  return notes;
}

asio::any_io_executor ProxyServer::nextWorker() {
  return workers_[next_worker_++ % workers_.size()]->get_executor();
}

asio::awaitable<void> ProxyServer::acceptLoop(tcp::acceptor& acceptor, Listener listener) {
  while (!stopping_) {
    const ProxyConfig& cfg = ctx_->proxy();
    auto worker = nextWorker();
    auto [ec, socket] = co_await acceptor.async_accept(worker, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) {
        co_return;
      }
      spdlog::warn("proxy: accept failed: {}", ec.message());
      co_await sleepFor(milliseconds(100));
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (ctx_->clients.load() >= cfg.max_client_conn) {
      // Refused before reading anything: the client sees the error when it sends its startup.
      std::string out =
          pgwire::errorResponse("FATAL", pgwire::sqlstate::kTooManyConnections,
                                "no more connections allowed (proxy.max_client_conn = " +
                                    std::to_string(cfg.max_client_conn) + ")");
      asio::write(socket, asio::buffer(out), ignored);
      socket.close(ignored);
      continue;
    }
    ctx_->clients++;  // until the session ends
    asio::co_spawn(worker, runClientSession(std::move(socket), listener, *ctx_), asio::detached);
  }
}

asio::awaitable<void> ProxyServer::janitor() {
  while (!stopping_) {
    co_await sleepFor(kJanitorPeriod);
    const ProxyConfig& cfg = ctx_->proxy();
    auto now = std::chrono::steady_clock::now();
    for (const auto& pool : ctx_->pools.all()) {
      pool->expire(now, cfg.server_idle_timeout);
      pool->expireWaiters(now);  // queued transaction-mode clients past query_wait_timeout
    }
    if (cfg.min_pool_size > 0) {
      // Only pools of servers still routed to are kept at their minimum.
      auto routes = ctx_->routes.current();
      ServerPool::LoginSettings settings{cfg.server_connect_timeout, &ctx_->keys, ctx_->crypto};
      for (const auto& pool : ctx_->pools.all()) {
        const std::string endpoint = pool->key().endpoint;
        bool routed = routes->leader && routes->leader->endpoint() == endpoint;
        for (const auto& r : routes->replicas) {
          routed = routed || (r.endpoint() == endpoint && replicaQualifies(r, cfg));
        }
        if (routed) {
          co_await pool->topUp(cfg.min_pool_size, settings);
        }
      }
    }
  }
}

void ProxyServer::updateRoutes(RouteTable table) {
  if (stopping_) {
    return;  // the sessions' threads are gone
  }
  auto published = ctx_->routes.publish(std::move(table));
  if (!published) {
    return;
  }
  // A switchover pause lasts from the paused routes until a leader is routed to again.
  const auto now = std::chrono::steady_clock::now();
  if (published->rw_paused && !pause_started_) {
    pause_started_ = now;
    spdlog::info("proxy: switchover under way: read-write transactions wait for the new leader");
  } else if (pause_started_ && !published->rw_paused && published->leader) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - *pause_started_);
    ctx_->last_switchover_pause_us = static_cast<std::uint64_t>(us.count());
    ctx_->switchover_pauses++;
    spdlog::info("proxy: read-write transactions resumed on {} after a {} ms switchover pause",
                 published->leader->member, us.count() / 1000);
    pause_started_.reset();
  }
  std::vector<std::string> keep;
  if (published->leader) {
    keep.push_back(published->leader->endpoint());
  }
  for (const auto& r : published->replicas) {
    if (replicaQualifies(r, ctx_->proxy())) {
      keep.push_back(r.endpoint());
    }
  }
  ctx_->pools.closeIdleExcept(keep);

  // Only where writes go counts: a leader whose tags or lag figures changed is the same one.
  auto where = [](const std::optional<RouteTarget>& t) {
    return t ? t->member + "@" + t->endpoint() : std::string();
  };
  bool leader_changed = last_leader_.has_value() && where(published->leader) != where(last_leader_);
  if (leader_changed) {
    std::string reason = published->leader
                             ? "terminating connection because the primary moved from " +
                                   last_leader_->member + " to " + published->leader->member +
                                   "; reconnect to reach the new primary"
                             : "terminating connection because " + last_leader_->member +
                                   " is no longer the writable primary (failover in progress); "
                                   "reconnect";
    spdlog::info("proxy: writable leader {} -> {}: ending read-write sessions on {}",
                 last_leader_->member, published->leader ? published->leader->member : "(none)",
                 last_leader_->member);
    const std::string old_endpoint = last_leader_->endpoint();
    for (const auto& s : ctx_->sessions.all()) {
      if (s->listener() == Listener::rw && s->info().server_endpoint == old_endpoint) {
        s->terminate(reason);
      }
    }
    for (const auto& pool : ctx_->pools.all()) {
      if (pool->key().endpoint == old_endpoint) {
        pool->closeIdle(true);
      }
    }
  }
  last_leader_ = published->leader;
}

}  // namespace keel::proxy
