#include "cli/proxy_routes.h"

namespace keel::cli {

proxy::RouteTable routesFromView(const ha::ClusterView& view, const std::string& self) {
  proxy::RouteTable table;
  table.known = true;
  const ha::MemberRecord* leader = view.leaderMember();
  WalPosition head;
  if (leader) {
    head = leader->wal_position;
    if (leader->role == "primary" && leader->state == "running" && !leader->host.empty()) {
      table.leader = proxy::RouteTarget{.member = leader->name,
                                        .host = leader->host,
                                        .port = leader->port,
                                        .noloadbalance = leader->noloadbalance};
    }
  }
  // The leader marked a switchover request paused and still holds the lock: it is letting the
  // transactions in flight finish before it stops.
  table.rw_paused = view.failover && view.failover->paused_at > 0 && view.leader &&
                    view.leader->name == view.failover->leader;
  for (const auto& [name, m] : view.members) {
    if (name != self && !m.proxy.empty()) {
      table.peer_proxies.push_back(m.proxy);
    }
    if (&m == leader || m.role != "replica" || m.host.empty() ||
        (m.state != "streaming" && m.state != "running")) {
      continue;
    }
    WalPosition replayed = m.replay_position.value != 0 ? m.replay_position : m.wal_position;
    proxy::RouteTarget r{.member = name,
                         .host = m.host,
                         .port = m.port,
                         .lag_bytes = head.value > replayed.value ? head.value - replayed.value : 0,
                         .delay_ms = m.replay_delay_ms,
                         .noloadbalance = m.noloadbalance};
    table.replicas.push_back(std::move(r));
  }
  return table;
}

}  // namespace keel::cli
