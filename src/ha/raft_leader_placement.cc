#include "ha/raft_leader_placement.h"

#include <spdlog/spdlog.h>

#include "common/async.h"
#include "dcs/raft_leadership.h"

namespace keel::ha {

namespace asio = boost::asio;

namespace {
constexpr std::chrono::milliseconds kHandOffBudget{3000};
}

RaftLeaderPlacement::RaftLeaderPlacement(asio::any_io_executor ex, std::string local_etcd_url,
                                         std::function<bool()> serving_primary,
                                         std::chrono::milliseconds period,
                                         std::chrono::milliseconds retry_after)
    : ex_(std::move(ex)),
      local_etcd_url_(std::move(local_etcd_url)),
      serving_primary_(std::move(serving_primary)),
      period_(period),
      retry_after_(retry_after) {}

asio::awaitable<void> RaftLeaderPlacement::run() {
  std::string last_error;
  while (!stopping_) {
    auto wait = period_;
    if (serving_primary_()) {
      auto moved = co_await dcs::handOffRaftLeadership(ex_, local_etcd_url_, kHandOffBudget);
      if (!moved) {
        if (moved.message() != last_error) {
          spdlog::warn(
              "cannot move etcd raft leadership off this host (the PostgreSQL leader): {}; "
              "a failover of this host would take longer until it moves",
              moved.message());
          last_error = moved.message();
        }
        wait = retry_after_;
      } else {
        last_error.clear();
        if (*moved) {
          spdlog::info(
              "etcd raft leadership moved to member '{}', so losing this host (the PostgreSQL "
              "leader) does not also cost an etcd election",
              **moved);
        }
      }
    }
    co_await sleepFor(wait);
  }
}

}  // namespace keel::ha
