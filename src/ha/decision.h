#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/wal_position.h"
#include "ha/cluster_view.h"

namespace keel::ha {

// The HA decision core: a pure function from what the loop observed to what it does next.
// No I/O and no clock reads; time comes in as arguments. Every decision carries a reason that
// the loop logs and publishes, so an operator can always see why a member does what it does.

// What this member knows about itself at the start of a cycle.
struct LocalState {
  std::string name;
  bool data_initialized = false;  // a PostgreSQL data directory exists
  bool pg_running = false;        // the postmaster accepts connections
  // The postmaster process runs but does not answer queries (overloaded, or busy starting,
  // stopping or recovering): nothing can be started, compared or promoted until it does.
  bool pg_unresponsive = false;
  std::optional<SteadyTime> pg_unresponsive_since;  // when it stopped answering
  // Holding the leader key: since when PostgreSQL has not been running (failed starts included).
  std::optional<SteadyTime> primary_down_since;
  bool in_recovery = true;  // running as a standby (meaningful when pg_running)
  bool fenced = false;      // this agent killed PostgreSQL to fence itself
  // Stopped data directory that was last a primary (pg_controldata "in production" or
  // "shut down"): it must not start as a standby without a rewind check.
  bool stopped_as_primary = false;
  WalPosition wal_position;
  int timeline = 0;
  std::uint64_t system_identifier = 0;  // 0: unknown (no data, or not read yet)
  std::string upstream;  // running standby: the member it follows ("" if none/unknown)
  // Running standby on an older timeline than its leader's, that has not streamed for a while:
  // the position where the leader's timeline history leaves this standby's timeline. A standby
  // holding WAL past it has diverged (it went on receiving from a primary that lost the lock)
  // and can never stream from the leader until it is rewound.
  std::optional<WalPosition> leader_fork_lsn;
  // This agent's lease: valid while its own clock says so (see leaseValid).
  std::int64_t lease = 0;
  std::optional<SteadyTime> last_renewal_sent;  // send time of the last successful renewal
  // failsafe_mode, as primary: until when every member's confirmation vouches for this primary
  // while its lease cannot (see LeaseKeeper). Past it, only the lease counts.
  std::optional<SteadyTime> failsafe_until;
  // failsafe_mode, as replica: the primary that last asked this member to confirm it (POST
  // /failsafe) and until when this member promised not to take the lock (ttl after answering).
  struct FailsafeHoldoff {
    std::string leader;
    SteadyTime until;
  };
  std::optional<FailsafeHoldoff> failsafe_holdoff;
  // Tags (from the config file).
  bool nofailover = false;
  int failover_priority = 1;
};

// A fresh reading of another member, taken through its REST API when the leader lock is free.
struct PeerProbe {
  std::string name;
  bool reachable = false;
  bool pg_running = false;
  bool in_recovery = true;
  WalPosition wal_position;
  bool nofailover = false;
  int failover_priority = 1;
  bool eligible() const { return reachable && !nofailover && failover_priority > 0; }
};

struct DecisionInput {
  const ClusterView& view;
  const LocalState& local;
  const std::vector<PeerProbe>& peers;  // empty unless the leader lock is free
  SteadyTime now;                       // this member's monotonic clock
  double now_epoch = 0;                 // wall clock, for scheduled switchovers
  std::chrono::milliseconds ttl{2000};
  std::chrono::milliseconds fence_margin{500};
  std::uint64_t maximum_lag_on_failover = 1024 * 1024;
  // A failover request naming another candidate is honoured this long before the others fall
  // back to a normal election (the candidate may have died).
  std::chrono::milliseconds failover_candidate_grace{10000};
  // How long the leader waits for its PostgreSQL to answer again before it stops it.
  std::chrono::milliseconds unresponsive_grace{30000};
  // How long the leader keeps trying to start its PostgreSQL before it hands the lock to a
  // replica that may take it (Patroni's primary_start_timeout).
  std::chrono::milliseconds primary_start_timeout{300000};
};

enum class Action {
  none,            // nothing to do this cycle (reason says why)
  bootstrap,       // claim initialize + leader, initdb, start, create roles, publish sysid
  acquire_leader,  // CAS-create the leader key with our lease; promote when it succeeds
  promote,         // we hold the lock but PostgreSQL is a standby
  start_primary,   // we hold the lock, PostgreSQL is down
  start_standby,   // start PostgreSQL as a standby of `target` ("" = no upstream yet)
  follow,          // running standby: repoint it at `target`
  rejoin,          // stopped former primary: rewind against `target` if needed, then standby
  rewind,          // running standby diverged from `target`'s timeline: stop, rewind, standby
  demote,          // running primary without the lock: stop it now, then rejoin `target`
  clone,           // no data: pg_basebackup from `target`
  switchover,      // leader: hand over to `target` (planned, no data loss)
  clear_failover,  // drop a failover request that cannot be honoured (reason says why)
  release_leader,  // delete our leader key (we cannot serve as primary)
  fence,           // stop accepting writes immediately: the lease may be lost
  refuse,          // an error needing a person (reason says what and what to do)
};

const char* toString(Action a);

struct Decision {
  Action action = Action::none;
  std::string target;  // a member name, for the actions that take one
  std::string reason;
  // Role the member plays after this cycle, for publishing.
  enum class Role { leader, replica, none } role = Role::none;
};

// Whether this member may still consider its lease valid: it sent a renewal that succeeded
// less than ttl - fence_margin ago. Past that point, etcd may expire the lease soon, so a
// leader must already have stopped accepting writes.
bool leaseValid(const LocalState& local, SteadyTime now, std::chrono::milliseconds ttl,
                std::chrono::milliseconds fence_margin);

// Whether a running primary may still accept writes: its lease is valid, or the members'
// failsafe confirmations still vouch for it (LocalState::failsafe_until).
bool primaryMayWrite(const LocalState& local, SteadyTime now, std::chrono::milliseconds ttl,
                     std::chrono::milliseconds fence_margin);

// When a leader must have fenced itself: last successful renewal's send time + ttl - margin.
std::optional<SteadyTime> fenceDeadline(const LocalState& local, std::chrono::milliseconds ttl,
                                        std::chrono::milliseconds fence_margin);

// Whether this member holds the leader lock right now, by the DCS record and its own clock.
bool holdsLeaderLock(const DecisionInput& in);

Decision decide(const DecisionInput& in);

// Why each member cannot be promoted now (for 412/503 answers and logs): member name -> reason;
// members absent from the map are eligible. `lag` is measured against `leader_position`.
std::map<std::string, std::string> ineligibleMembers(const ClusterView& view,
                                                     WalPosition leader_position,
                                                     std::uint64_t maximum_lag);

// The replica a switchover without a named candidate goes to: eligible, streaming, lowest lag,
// priority breaking ties, then name. nullopt if none.
std::optional<std::string> pickSwitchoverCandidate(const ClusterView& view,
                                                   const std::string& leader,
                                                   std::uint64_t maximum_lag);

}  // namespace keel::ha
