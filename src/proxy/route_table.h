#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace keel::proxy {

// One PostgreSQL server the proxy can route to.
struct RouteTarget {
  std::string member;  // Keel member name
  std::string host;
  std::uint16_t port = 0;
  // Replicas: how far replay trails the leader, in bytes and in time (nullopt: unknown).
  std::uint64_t lag_bytes = 0;
  std::optional<std::int64_t> delay_ms;
  bool noloadbalance = false;

  std::string endpoint() const;  // "host:port", the pool key
  bool operator==(const RouteTarget&) const = default;
};

// Where the proxy sends clients, derived from the DCS cluster view. Immutable once published.
struct RouteTable {
  std::uint64_t generation = 0;  // set by RouteBoard::publish
  // The lock holder once its record says it runs as primary; nullopt while there is no
  // writable leader (failover in progress, no leader, leader still starting).
  std::optional<RouteTarget> leader;
  std::vector<RouteTarget> replicas;      // running replicas, with their lag
  std::vector<std::string> peer_proxies;  // other members' RW proxy "host:port" (cancels)
  bool known = false;                     // false until the first view arrived
  // A switchover is under way: no read-write server connection is lent for a new transaction
  // (new clients and transactions wait as they do while there is no leader).
  bool rw_paused = false;

  // Same routes (generation ignored).
  bool sameRoutes(const RouteTable& other) const;
};

// Which replica a read-only client gets: the qualifying replica (not noloadbalance, replay lag
// within max_lag_bytes and max_lag_time) with the fewest server connections in use, ties broken
// by name; when none qualifies, the leader if ro_fallback_to_primary, else nullopt. Pure.
std::optional<RouteTarget> chooseReadTarget(
    const RouteTable& table, const ProxyConfig& config,
    const std::function<int(const std::string& endpoint)>& connections_in_use);
// Whether `target` still qualifies for read-only routing under `config`.
bool replicaQualifies(const RouteTarget& target, const ProxyConfig& config);

// The current RouteTable, shared by the control-plane thread (which publishes) and the proxy
// workers (which read). Lock-free reads.
class RouteBoard {
 public:
  RouteBoard();
  // Returns the published table (with its generation) when the routes changed, else nullptr.
  std::shared_ptr<const RouteTable> publish(RouteTable table);
  std::shared_ptr<const RouteTable> current() const { return current_.load(); }
  // The generation of the latest table, cheaper to read than current(): a reader holding a table
  // of this generation has the current one.
  std::uint64_t generation() const { return published_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const RouteTable>> current_;
  std::atomic<std::uint64_t> published_{0};
  std::uint64_t generation_ = 0;  // publisher only
};

}  // namespace keel::proxy
