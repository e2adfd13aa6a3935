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
//
// failsafe_mode (setFailsafe): while renewals fail or lag (none succeeded for half the time
// to the deadline) and the agent serves as primary, the keeper asks every member listed in
// the failsafe key to confirm over the peer API, every ttl/8. When
// all confirm, the deadline moves to (time the requests were sent) + ttl - fence_margin: each
// confirming member refrains from taking the leader lock for ttl after it answered (see
// decision.h, LocalState::failsafe_holdoff), and it answered after the requests were sent.
// A lease granted while serving (the old one expired in the DCS) does not extend the deadline:
// the leader key was bound to the old lease, so only the confirmations vouch for this primary
// until the agent holds the lock again under the new lease (servingUnderCurrentLease).
class LeaseKeeper {
 public:
  struct State {
    dcs::LeaseId lease = 0;
    std::optional<SteadyTime> last_renewal_sent;
    std::string last_error;  // empty while renewals succeed
    // Until when the members' failsafe confirmations vouch for this primary (see above).
    std::optional<SteadyTime> failsafe_until;
  };
  // Asks the failsafe key's members to confirm this primary; true when every one did.
  using FailsafeConfirm = std::function<boost::asio::awaitable<bool>()>;

  LeaseKeeper(dcs::Dcs& dcs, const Clock& clock, std::chrono::milliseconds ttl,
              std::chrono::milliseconds fence_margin, std::function<void(std::string)> fence);

  boost::asio::awaitable<void> runRenewals();
  boost::asio::awaitable<void> runWatchdog();
  // Runs the failsafe confirmations (see above) until stop(); does nothing without setFailsafe.
  boost::asio::awaitable<void> runFailsafe();
  // Before the loops start.
  void setFailsafe(FailsafeConfirm confirm) { failsafe_confirm_ = std::move(confirm); }
  void stop() { stopping_ = true; }

  // Thread-safe copies.
  State state() const;
  // Starting to serve remembers the current lease as the one the leader key is bound to.
  void setServingPrimary(bool serving);
  bool servingPrimary() const;
  // The agent (re)took the leader lock under the current lease while serving as primary.
  void servingUnderCurrentLease();
  // The time until which PostgreSQL may commit as primary: the later of the lease's deadline
  // (only while serving under the lease the lock is bound to) and failsafe_until. nullopt: none.
  std::optional<SteadyTime> writeDeadline() const;
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
  std::optional<SteadyTime> writeDeadlineLocked() const;

  dcs::Dcs& dcs_;
  const Clock& clock_;
  std::chrono::milliseconds ttl_;
  std::chrono::milliseconds fence_margin_;
  std::function<void(std::string)> fence_;
  std::function<void(std::int64_t)> deadline_sink_;  // set before the loops start
  FailsafeConfirm failsafe_confirm_;                 // set before the loops start
  mutable std::mutex mu_;
  State state_;
  bool serving_primary_ = false;
  dcs::LeaseId serving_lease_ = 0;  // the lease the leader key was bound to when serving began
  bool paused_ = false;
  bool stopping_ = false;
};

}  // namespace keel::ha
