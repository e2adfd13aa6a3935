#include "proxy/proxy_snapshot.h"

#include <algorithm>

#include "common/clock.h"

namespace keel::proxy {

PoolCounters countersOf(const PoolStats& stats) {
  PoolCounters c;
  c.queries = stats.queries.load();
  c.transactions = stats.transactions.load();
  c.bytes_received = stats.bytes_received.load();
  c.bytes_sent = stats.bytes_sent.load();
  c.wait_microseconds = stats.wait_microseconds.load();
  c.waits = stats.waits.load();
  c.logins = stats.logins.load();
  c.login_failures = stats.login_failures.load();
  c.query_microseconds = stats.query_microseconds.load();
  c.server_parses = stats.server_parses.load();
  c.injected_parses = stats.injected_parses.load();
  c.statement_evictions = stats.statement_evictions.load();
  c.client_statement_evictions = stats.client_statement_evictions.load();
  c.synthesized_responses = stats.synthesized_responses.load();
  c.shared_statements = stats.shared_statements.load();
  for (std::size_t i = 0; i < c.latency.size(); ++i) {
    c.latency[i] = stats.latency[i].load();
  }
  return c;
}

int activeClients(const ProxySnapshot& s, const PoolKey& key) {
  int n = 0;
  for (const auto& c : s.clients) {
    if (c.info.database == key.database && c.info.user == key.user &&
        c.info.server_endpoint == key.endpoint &&
        (c.info.state == "active" || c.info.state == "closing")) {
      ++n;
    }
  }
  return n;
}

std::map<std::pair<std::string, std::string>, int> unroutedWaiting(const ProxySnapshot& s) {
  // A session waiting in a pool's queue has no server endpoint yet either: take the pools'
  // queues out of the count.
  std::map<std::pair<std::string, std::string>, int> out;
  for (const auto& c : s.clients) {
    if (c.info.state == "waiting" && c.info.server_endpoint.empty()) {
      out[{c.info.database, c.info.user}]++;
    }
  }
  for (const auto& p : s.pools) {
    auto it = out.find({p.key.database, p.key.user});
    if (it != out.end()) {
      it->second -= p.waiting;
    }
  }
  for (auto it = out.begin(); it != out.end();) {
    it = it->second > 0 ? std::next(it) : out.erase(it);
  }
  return out;
}

ProxySnapshot takeSnapshot(const ProxyContext& ctx) {
  ProxySnapshot s;
  s.steady_now = std::chrono::steady_clock::now();
  s.epoch_now = wallClockSeconds();
  const ProxyConfig& cfg = ctx.proxy();
  s.paused = ctx.paused.load();
  s.switchover_pauses = ctx.switchover_pauses.load();
  s.last_switchover_pause_us = ctx.last_switchover_pause_us.load();
  s.paused_databases = ctx.paused_databases.names();
  s.pool_mode = cfg.pool_mode;
  s.default_pool_size = cfg.default_pool_size;
  s.min_pool_size = cfg.min_pool_size;
  s.listen_rw = cfg.listen_rw;
  s.listen_ro = cfg.listen_ro;
  for (const auto& pool : ctx.pools.all()) {
    PoolSnapshot p;
    p.key = pool->key();
    p.server = pool->target().member;
    p.host = pool->target().host;
    p.port = pool->target().port;
    p.lent = pool->lent();
    p.idle = pool->idle();
    p.waiting = pool->waiting();
    p.total = pool->total();
    p.max_size = pool->maxSize();
    p.max_wait = pool->longestWait(s.steady_now);
    p.retire_before = pool->retireBefore();
    p.counters = countersOf(pool->stats());
    p.idle_servers = pool->idleServers();
    s.pools.push_back(std::move(p));
  }
  std::sort(s.pools.begin(), s.pools.end(), [](const PoolSnapshot& a, const PoolSnapshot& b) {
    return std::tie(a.key.database, a.key.user, a.key.endpoint) <
           std::tie(b.key.database, b.key.user, b.key.endpoint);
  });
  for (const auto& session : ctx.sessions.all()) {
    s.clients.push_back(ClientSnapshot{session->id(), session->listener(), session->info()});
  }
  std::sort(s.clients.begin(), s.clients.end(),
            [](const ClientSnapshot& a, const ClientSnapshot& b) { return a.id < b.id; });
  return s;
}

}  // namespace keel::proxy
