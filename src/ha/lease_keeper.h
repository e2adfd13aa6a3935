#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

#include "common/clock.h"
#include "dcs/dcs.h"

namespace keel::ha {

// Holds this member's DCS lease: grants it, renews it every ttl/4, and grants a new one when
// etcd reports it gone. Runs as its own coroutine on the control-plane io_context, so lease
// renewal never waits behind the HA cycle or PostgreSQL work.
//
// The fence watchdog runs beside it: while the agent says it serves as primary
// (setServingPrimary), it checks every 50 ms whether the last successful renewal was sent more
// than ttl - fence_margin ago and, if so, calls `fence` at once. etcd cannot expire the lease
// before ttl after it received that renewal, which is after it was sent, so PostgreSQL stops
// accepting writes before any other member can take the lock.
class LeaseKeeper {
 public:
  struct State {
    dcs::LeaseId lease = 0;
    std::optional<SteadyTime> last_renewal_sent;
    std::string last_error;  // empty while renewals succeed
  };

  LeaseKeeper(dcs::Dcs& dcs, const Clock& clock, std::chrono::milliseconds ttl,
              std::chrono::milliseconds fence_margin, std::function<void(std::string)> fence);

  boost::asio::awaitable<void> runRenewals();
  boost::asio::awaitable<void> runWatchdog();
  void stop() { stopping_ = true; }

  // Thread-safe copies.
  State state() const;
  void setServingPrimary(bool serving);
  bool servingPrimary() const;
  // Paused clusters never fence (maintenance mode takes no action).
  void setPaused(bool paused);
  // Revokes the lease (clean shutdown: the leader key goes at once, no one waits for the TTL).
  boost::asio::awaitable<void> revoke();
  // Gets, after every renewal attempt and every pause change, the time until which PostgreSQL
  // may commit writes: the watchdog's deadline (last renewal sent + ttl - fence_margin) as
  // nanoseconds of the steady clock, 0 without a lease, INT64_MAX while paused. The agent hands
  // it to keel_fence (pg/fence_deadline.h), which enforces it even while the agent is frozen.
  void setDeadlineSink(std::function<void(std::int64_t)> sink);

 private:
  boost::asio::awaitable<void> renewOnce();
  void publishDeadline();

  dcs::Dcs& dcs_;
  const Clock& clock_;
  std::chrono::milliseconds ttl_;
  std::chrono::milliseconds fence_margin_;
  std::function<void(std::string)> fence_;
  std::function<void(std::int64_t)> deadline_sink_;  // set before the loops start
  mutable std::mutex mu_;
  State state_;
  bool serving_primary_ = false;
  bool paused_ = false;
  bool stopping_ = false;
};

}  // namespace keel::ha
