#include "proxy/route_table.h"

#include <algorithm>
#include <limits>

namespace keel::proxy {

std::string RouteTarget::endpoint() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

bool RouteTable::sameRoutes(const RouteTable& other) const {
  return known == other.known && leader == other.leader && replicas == other.replicas &&
         peer_proxies == other.peer_proxies && rw_paused == other.rw_paused;
}

bool replicaQualifies(const RouteTarget& target, const ProxyConfig& config) {
  if (target.noloadbalance || target.lag_bytes > config.max_lag_bytes) {
    return false;
  }
  return !target.delay_ms || *target.delay_ms <= config.max_lag_time.count();
}

std::optional<RouteTarget> chooseReadTarget(
    const RouteTable& table, const ProxyConfig& config,
    const std::function<int(const std::string& endpoint)>& connections_in_use) {
  const RouteTarget* best = nullptr;
  int best_load = std::numeric_limits<int>::max();
  for (const auto& r : table.replicas) {
    if (!replicaQualifies(r, config)) {
      continue;
    }
    int load = connections_in_use(r.endpoint());
    if (best == nullptr || load < best_load || (load == best_load && r.member < best->member)) {
      best = &r;
      best_load = load;
    }
  }
  if (best != nullptr) {
    return *best;
  }
  if (config.ro_fallback_to_primary && table.leader) {
    return table.leader;
  }
  return std::nullopt;
}

RouteBoard::RouteBoard() : current_(std::make_shared<const RouteTable>()) {}

std::shared_ptr<const RouteTable> RouteBoard::publish(RouteTable table) {
  auto old = current_.load();
  if (old && old->sameRoutes(table)) {
    return nullptr;
  }
  table.generation = ++generation_;
  auto next = std::make_shared<const RouteTable>(std::move(table));
  current_.store(next);
  published_.store(next->generation, std::memory_order_release);
  return next;
}

}  // namespace keel::proxy
