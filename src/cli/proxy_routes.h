#pragma once

#include <string>

#include "ha/cluster_view.h"
#include "proxy/route_table.h"

namespace keel::cli {

// The proxy's routes from a cluster view: the leader once its record says it runs as primary,
// running replicas with their replay lag behind the leader (bytes: the leader's position minus
// the replica's replay position; time: the replica's replay delay), and the other members'
// proxy addresses. Pure; the agent feeds it every view its HA loop reads.
proxy::RouteTable routesFromView(const ha::ClusterView& view, const std::string& self);

}  // namespace keel::cli
