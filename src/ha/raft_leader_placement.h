#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace keel::ha {

// Keeps etcd's raft leader off the host of the PostgreSQL leader (embedded etcd only).
//
// While `serving_primary()` says this agent is the writable primary, it asks its own etcd member
// once a second whether that member leads raft, and if so hands raft leadership to another
// member (dcs/raft_leadership.h says why: losing both leaders at once costs a raft election
// plus etcd's lease extension, several seconds of failover time). A failed hand-off is logged
// and tried again after `retry_after`.
//
// Runs as a coroutine on the control-plane io_context.
class RaftLeaderPlacement {
 public:
  RaftLeaderPlacement(boost::asio::any_io_executor ex, std::string local_etcd_url,
                      std::function<bool()> serving_primary,
                      std::chrono::milliseconds period = std::chrono::seconds(1),
                      std::chrono::milliseconds retry_after = std::chrono::seconds(5));

  boost::asio::awaitable<void> run();  // until stop()
  void stop() { stopping_ = true; }

 private:
  boost::asio::any_io_executor ex_;
  std::string local_etcd_url_;
  std::function<bool()> serving_primary_;
  std::chrono::milliseconds period_;
  std::chrono::milliseconds retry_after_;
  std::atomic<bool> stopping_{false};
};

}  // namespace keel::ha
