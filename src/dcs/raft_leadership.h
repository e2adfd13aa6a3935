#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "dcs/dcs.h"
#include "dcs/etcd_json.h"

// etcd's raft leadership, read and moved through the JSON gateway (etcd 3.4:
// /v3/maintenance/status, /v3/cluster/member/list, /v3/maintenance/transfer-leadership).
//
// Why Keel moves it: when the host that runs both the PostgreSQL leader and etcd's raft leader
// dies, etcd first needs an election (one election timeout and more), and the new raft leader
// then extends every lease by its full TTL plus an election timeout (etcd's lessor Promote).
// The dead leader's lease so outlives it by several seconds. With the raft leader on another
// host, the lease simply runs out ttl after its last renewal.
namespace keel::dcs {

boost::asio::awaitable<DcsResult<etcd_json::MemberStatus>> etcdMemberStatus(
    boost::asio::any_io_executor ex, std::string client_url, std::chrono::milliseconds budget);

// If the member at `client_url` leads raft, hands leadership to the voting member that follows
// it and has applied the most of the raft log (members that do not answer are skipped). Returns
// the new leader's name, or nullopt when the member did not lead or no other member can take
// over. Takes up to `budget` in all (etcd waits for the transferee to catch up).
boost::asio::awaitable<DcsResult<std::optional<std::string>>> handOffRaftLeadership(
    boost::asio::any_io_executor ex, std::string client_url, std::chrono::milliseconds budget);

}  // namespace keel::dcs
