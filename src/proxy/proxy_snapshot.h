#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "proxy/proxy_context.h"
#include "proxy/server_pool.h"

namespace keel::proxy {

// The counters of one pool, copied out of PoolStats.
struct PoolCounters {
  std::uint64_t queries = 0;
  std::uint64_t transactions = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t wait_microseconds = 0;
  std::uint64_t waits = 0;
  std::uint64_t logins = 0;
  std::uint64_t login_failures = 0;
  std::uint64_t query_microseconds = 0;
  // Transaction pooling: named prepared statements (see TransactionRelayCounters).
  std::uint64_t server_parses = 0;
  std::uint64_t injected_parses = 0;
  std::uint64_t statement_evictions = 0;
  std::uint64_t client_statement_evictions = 0;
  std::uint64_t synthesized_responses = 0;
  std::uint64_t shared_statements = 0;
  // Not cumulative: latency[i] counts requests in (kBuckets[i-1], kBuckets[i]]; the last entry
  // counts those above every bound.
  std::array<std::uint64_t, PoolStats::kBuckets.size() + 1> latency{};
};

struct PoolSnapshot {
  PoolKey key;
  std::string server;  // member name
  std::string host;
  std::uint16_t port = 0;
  int lent = 0;     // server connections lent to clients
  int idle = 0;     // server connections ready in the pool
  int waiting = 0;  // clients queued for a server connection
  int total = 0;    // lent + idle + being opened
  int max_size = 0;
  std::chrono::microseconds max_wait{0};  // of the oldest queued client
  std::uint64_t retire_before = 0;        // lent connections with a smaller id close on return
  PoolCounters counters;
  std::vector<ServerPool::IdleServer> idle_servers;
};

struct ClientSnapshot {
  std::uint64_t id = 0;
  Listener listener = Listener::rw;
  SessionInfo info;
};

// What the admin console and /metrics report, copied from a ProxyContext at one moment, so the
// formatting code is pure and tested without sockets.
struct ProxySnapshot {
  std::vector<PoolSnapshot> pools;      // sorted by (database, user, server endpoint)
  std::vector<ClientSnapshot> clients;  // sorted by id
  bool paused = false;
  std::uint64_t switchover_pauses = 0;         // ProxyContext::switchover_pauses
  std::uint64_t last_switchover_pause_us = 0;  // ProxyContext::last_switchover_pause_us
  std::set<std::string> paused_databases;
  std::string pool_mode = "session";
  int default_pool_size = 0;
  int min_pool_size = 0;
  HostPort listen_rw;
  HostPort listen_ro;
  double epoch_now = 0;  // wall-clock seconds when taken
  std::chrono::steady_clock::time_point steady_now;

  bool pausedFor(const std::string& database) const {
    return paused || paused_databases.count(database) != 0;
  }
  // Wall-clock seconds of a steady-clock time point of this process.
  double toEpoch(std::chrono::steady_clock::time_point t) const {
    return epoch_now - std::chrono::duration<double>(steady_now - t).count();
  }
};

// Clients of a pool's (server, database, user) holding one of its connections.
int activeClients(const ProxySnapshot& s, const PoolKey& key);
// Clients waiting before any server was chosen for them (failover hold, PAUSE), by (database,
// user): those queued inside a pool are that pool's `waiting` and are not counted here.
std::map<std::pair<std::string, std::string>, int> unroutedWaiting(const ProxySnapshot& s);

// Any thread: every value is read under its owner's lock or atomically (not all at one instant).
ProxySnapshot takeSnapshot(const ProxyContext& ctx);
PoolCounters countersOf(const PoolStats& stats);

}  // namespace keel::proxy
