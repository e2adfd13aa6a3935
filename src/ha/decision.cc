#include "ha/decision.h"

#include <algorithm>
#include <cstdio>

#include "ha/sync_replication.h"

namespace keel::ha {
namespace {

Decision make(Action a, std::string reason, Decision::Role role = Decision::Role::none,
              std::string target = {}) {
  Decision d;
  d.action = a;
  d.reason = std::move(reason);
  d.role = role;
  d.target = std::move(target);
  return d;
}

std::string bytes(std::uint64_t n) {
  return std::to_string(n) + " bytes";
}

// failsafe_mode: a member that promised a primary over the peer API not to take the lock
// keeps that promise until it runs out, and only members named by the failsafe key may take
// the lock (the primary asked only those). Nullopt when this member may take it.
std::optional<std::string> failsafeBlocker(const DecisionInput& in) {
  const auto& l = in.local;
  if (l.failsafe_holdoff && in.now < l.failsafe_holdoff->until) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(l.failsafe_holdoff->until - in.now);
    if (l.failsafe_holdoff->leader.empty()) {
      return "this agent started less than ttl ago and a failsafe key exists: its previous run "
             "may have confirmed a primary over the peer API (failsafe_mode), a promise not to "
             "take the lock for ttl (" +
             std::to_string(left.count()) + " ms left)";
    }
    return "leader " + l.failsafe_holdoff->leader +
           " asked this member over the peer API to confirm that it still runs as primary "
           "(failsafe_mode, the DCS being out of its reach); this member promised not to take "
           "the lock for ttl after answering (" +
           std::to_string(left.count()) + " ms left)";
  }
  if (in.view.failsafe && !in.view.failsafe->count(l.name)) {
    std::string listed;
    for (const auto& [name, url] : *in.view.failsafe)
      listed += (listed.empty() ? "" : ", ") + name;
    return "not named by the failsafe key (" + (listed.empty() ? "nobody" : listed) +
           "): under failsafe_mode only the members the leader last listed may take the lock; "
           "it lists the members the leader saw, so a member that joined since waits for a "
           "leader to list it (if the listed members are gone for good, first make sure no "
           "PostgreSQL of theirs runs as a primary, then delete the key " +
           std::string(keys::kFailsafe) + " under the cluster's DCS prefix)";
  }
  return std::nullopt;
}

// The election rule for a free leader lock: this member may take it only when no reachable
// eligible member holds more WAL, and no such member ties with a higher failover_priority.
// Returns the reason it may not, or nullopt when it may.
std::optional<std::string> electionBlocker(const DecisionInput& in) {
  const auto& l = in.local;
  if (l.nofailover || l.failover_priority <= 0) {
    return "tagged nofailover (or failover_priority 0): not taking the leader lock";
  }
  if (auto blocker = failsafeBlocker(in))
    return *blocker;
  // Under a sync key the voters hold every acknowledged commit: WAL that others hold beyond
  // theirs was never acknowledged, so only the voters' positions count, and the lag limit
  // (a bound for asynchronous replication) does not apply.
  const bool sync = syncRestricts(in.view);
  if (sync) {
    if (auto blocker = syncPromotionBlocker(in.view, l.name, l.wal_position, in.peers))
      return *blocker;
  }
  if (!sync && in.view.last_leader_position && *in.view.last_leader_position > l.wal_position) {
    std::uint64_t lag = in.view.last_leader_position->value - l.wal_position.value;
    if (lag > in.maximum_lag_on_failover) {
      return "WAL position " + l.wal_position.str() + " is " + bytes(lag) +
             " behind the last leader position " + in.view.last_leader_position->str() +
             ", more than maximum_lag_on_failover (" + bytes(in.maximum_lag_on_failover) + ")";
    }
  }
  for (const auto& p : in.peers) {
    if (p.name == l.name || !p.reachable) {
      continue;
    }
    if (p.pg_running && !p.in_recovery) {
      return "member " + p.name + " still runs PostgreSQL as a primary";
    }
    if (!p.eligible()) {
      continue;
    }
    if (sync &&
        !(in.view.sync && (in.view.sync->isVoter(p.name) || in.view.sync->leader == p.name)))
      continue;
    if (p.wal_position > l.wal_position) {
      return "member " + p.name + " has a higher WAL position (" + p.wal_position.str() + " > " +
             l.wal_position.str() + ")";
    }
    if (p.wal_position == l.wal_position && p.failover_priority > l.failover_priority) {
      return "member " + p.name + " has the same WAL position and a higher failover_priority (" +
             std::to_string(p.failover_priority) + " > " + std::to_string(l.failover_priority) +
             ")";
    }
  }
  return std::nullopt;
}

// A member other than the leader that could take the lock now: a running replica, eligible,
// within maximum_lag_on_failover of the leader, and vouched for by the sync key if there is one.
std::optional<std::string> possibleSuccessor(const DecisionInput& in) {
  const auto& v = in.view;
  const MemberRecord* lm = v.leaderMember();
  WalPosition leader_pos = lm ? lm->wal_position : WalPosition{};
  if (v.last_leader_position)
    leader_pos = std::max(leader_pos, *v.last_leader_position);
  auto inelig = ineligibleMembers(v, leader_pos, in.maximum_lag_on_failover);
  for (const auto& [name, m] : v.members) {
    if (name == in.local.name || inelig.count(name))
      continue;
    if (syncRestricts(v) && !(v.sync && v.sync->quorum > 0 && v.sync->isVoter(name))) {
      continue;
    }
    return name;
  }
  return std::nullopt;
}

Decision decideAsLeader(const DecisionInput& in) {
  const auto& v = in.view;
  const auto& l = in.local;
  if (!l.pg_running) {
    if (!l.data_initialized) {
      return make(Action::release_leader, "holding the leader lock without a data directory");
    }
    if (l.primary_down_since && in.now - *l.primary_down_since >= in.primary_start_timeout) {
      if (auto successor = possibleSuccessor(in)) {
        auto seconds =
            std::chrono::duration_cast<std::chrono::seconds>(in.now - *l.primary_down_since);
        return make(Action::release_leader,
                    "PostgreSQL has not run on the leader for " + std::to_string(seconds.count()) +
                        " s (primary_start_timeout): releasing the leader lock so that a replica "
                        "(" +
                        *successor +
                        " qualifies) takes over; fix the cause in PostgreSQL's "
                        "log, this member then rejoins as a replica");
      }
    }
    return make(Action::start_primary, "PostgreSQL is not running on the leader; starting it",
                Decision::Role::leader);
  }
  if (l.in_recovery) {
    return make(Action::promote, "holding the leader lock; promoting PostgreSQL",
                Decision::Role::leader);
  }
  if (v.failover) {
    const auto& f = *v.failover;
    if (!f.leader.empty() && f.leader != l.name) {
      return make(
          Action::clear_failover,
          "switchover request names " + f.leader + " as leader, but " + l.name + " holds the lock",
          Decision::Role::leader);
    }
    if (f.scheduled_at > in.now_epoch) {
      return make(Action::none, "holding the leader lock; switchover scheduled",
                  Decision::Role::leader);
    }
    std::string candidate = f.candidate;
    if (candidate.empty()) {
      auto picked = pickSwitchoverCandidate(v, l.name, in.maximum_lag_on_failover);
      if (!picked) {
        std::string why;
        for (const auto& [name, reason] :
             ineligibleMembers(v, l.wal_position, in.maximum_lag_on_failover)) {
          if (name != l.name)
            why += "; " + name + ": " + reason;
        }
        return make(Action::clear_failover, "switchover cancelled: no eligible candidate" + why,
                    Decision::Role::leader);
      }
      candidate = *picked;
    }
    if (candidate == l.name) {
      return make(Action::clear_failover,
                  "switchover cancelled: candidate " + candidate + " is already the leader",
                  Decision::Role::leader);
    }
    // ineligibleMembers only knows published members: a name with no record (a typo, or a
    // member whose lease expired) would otherwise be handed a switchover it cannot take.
    if (!v.member(candidate)) {
      return make(Action::clear_failover,
                  "switchover cancelled: candidate " + candidate +
                      " is not a member of the cluster (no member record in the DCS)",
                  Decision::Role::leader);
    }
    auto inelig = ineligibleMembers(v, l.wal_position, in.maximum_lag_on_failover);
    if (auto it = inelig.find(candidate); it != inelig.end()) {
      return make(
          Action::clear_failover,
          "switchover cancelled: candidate " + candidate + " is not eligible: " + it->second,
          Decision::Role::leader);
    }
    return make(Action::switchover, f.reason.empty() ? "switchover requested" : f.reason,
                Decision::Role::leader, candidate);
  }
  return make(Action::none, "holding the leader lock", Decision::Role::leader);
}

Decision decideAsFollower(const DecisionInput& in) {
  const auto& v = in.view;
  const auto& l = in.local;
  const std::string& leader = v.leader->name;
  if (leader == l.name) {
    // Our name, but not our live lease: a key left by this member's previous run, or a lease
    // this member can no longer vouch for. It expires on its own, at a time this agent cannot
    // know, and then another member may promote: a primary serving under it must stop now.
    // failsafe_mode: the key is bound to this agent's lease, whose renewals fail, while every
    // member vouches for this primary: it serves on their word (the DCS answers reads, not
    // renewals).
    if (l.pg_running && !l.in_recovery && v.leader->lease == l.lease && l.lease != 0 &&
        primaryMayWrite(l, in.now, in.ttl, in.fence_margin)) {
      return make(Action::none,
                  "holding the leader key; its lease cannot be renewed but every member confirmed "
                  "this primary (failsafe_mode)",
                  Decision::Role::leader);
    }
    if (l.pg_running && !l.in_recovery) {
      return make(Action::fence,
                  "PostgreSQL runs as a primary under a leader key held by lease " +
                      std::to_string(v.leader->lease) + ", not this agent's lease " +
                      std::to_string(l.lease) +
                      ": its expiry is unknown, so stopping PostgreSQL before another member "
                      "can take the lock");
    }
    return make(Action::none, "waiting for this member's stale leader key to expire");
  }
  const MemberRecord* lm = v.member(leader);
  if (!l.data_initialized) {
    if (!lm || lm->host.empty() || lm->port == 0) {
      return make(Action::none, "waiting for leader " + leader + " to publish its address");
    }
    // A leader publishes "running" only after it created the replication slots of the
    // members it knows, so the clone finds its slot.
    if (lm->role != "primary" || lm->state != "running") {
      return make(Action::none, "waiting for leader " + leader + " to run as primary (it is " +
                                    lm->state + ") before cloning from it");
    }
    return make(Action::clone, "no data directory: cloning from leader " + leader,
                Decision::Role::replica, leader);
  }
  if (l.pg_running) {
    if (!l.in_recovery) {
      return make(Action::demote,
                  "PostgreSQL runs as a primary but " + leader + " holds the leader lock",
                  Decision::Role::replica, leader);
    }
    if (l.upstream != leader) {
      if (!lm || lm->host.empty()) {
        return make(Action::none, "waiting for leader " + leader + " to publish its address",
                    Decision::Role::replica);
      }
      return make(Action::follow, "following the new leader " + leader, Decision::Role::replica,
                  leader);
    }
    if (l.leader_fork_lsn && l.wal_position > *l.leader_fork_lsn) {
      return make(Action::rewind,
                  "replica diverged from leader " + leader + ": it holds WAL up to " +
                      l.wal_position.str() + " on timeline " + std::to_string(l.timeline) +
                      ", past " + l.leader_fork_lsn->str() +
                      " where the leader's timeline forked off it, so it cannot stream from "
                      "the leader; stopping it to rewind",
                  Decision::Role::replica, leader);
    }
    return make(Action::none, "replica of " + leader, Decision::Role::replica);
  }
  if (!lm || lm->host.empty()) {
    return make(Action::none, "waiting for leader " + leader + " to publish its address",
                Decision::Role::replica);
  }
  if (l.stopped_as_primary) {
    return make(Action::rejoin, "former primary rejoining as a replica of " + leader,
                Decision::Role::replica, leader);
  }
  return make(Action::start_standby, "starting PostgreSQL as a replica of " + leader,
              Decision::Role::replica, leader);
}

Decision decideWithoutLeader(const DecisionInput& in) {
  const auto& v = in.view;
  const auto& l = in.local;
  if (v.failover && !v.failover->candidate.empty()) {
    const auto& f = *v.failover;
    if (f.candidate == l.name) {
      // A switchover's candidate replays the stopped leader's last WAL before it takes the
      // lock; a failover's candidate must satisfy synchronous replication like any other.
      // A switchover's candidate may take the lock its leader hands over even while it
      // promised that leader not to; other promises, and the failsafe key, hold for both.
      // Only once that leader stopped (final_lsn is written after its PostgreSQL stopped).
      bool handed_over_by_holdoff_leader = !f.leader.empty() && !f.final_lsn.empty() &&
                                           l.failsafe_holdoff &&
                                           l.failsafe_holdoff->leader == f.leader;
      if (!handed_over_by_holdoff_leader) {
        if (auto blocker = failsafeBlocker(in))
          return make(Action::none, "chosen as failover candidate, but " + *blocker);
      }
      if (f.leader.empty() && l.pg_running) {
        if (auto blocker = syncPromotionBlocker(v, l.name, l.wal_position, in.peers)) {
          return make(Action::none, "chosen as failover candidate, but " + *blocker);
        }
      }
      if (!l.pg_running) {
        return make(Action::start_standby,
                    "chosen as failover candidate: starting PostgreSQL to promote it");
      }
      return make(Action::acquire_leader,
                  f.reason.empty() ? "chosen as failover candidate" : f.reason,
                  Decision::Role::leader);
    }
    double age_ms = (in.now_epoch - f.requested_at) * 1000.0;
    if (age_ms < static_cast<double>(in.failover_candidate_grace.count())) {
      return make(Action::none, "waiting for candidate " + f.candidate + " to take the lock");
    }
  }
  if (!l.data_initialized) {
    return make(Action::none, "no leader and no data directory: waiting for a leader to clone");
  }
  if (!l.pg_running) {
    // Read-only start: the WAL position can only be compared on a running server, and a
    // standby accepts no writes while we do not hold the lock.
    return make(Action::start_standby,
                "no leader: starting PostgreSQL read-only to compare WAL positions");
  }
  if (auto blocker = electionBlocker(in)) {
    if (!l.in_recovery) {
      return make(Action::demote, "running primary without the leader lock and " + *blocker);
    }
    return make(Action::none, "leader lock is free but " + *blocker);
  }
  return make(
      Action::acquire_leader,
      "leader lock is free and this member is the healthiest (WAL " + l.wal_position.str() + ")",
      Decision::Role::leader);
}

}  // namespace

const char* toString(Action a) {
  switch (a) {
    case Action::none:
      return "none";
    case Action::bootstrap:
      return "bootstrap";
    case Action::acquire_leader:
      return "acquire_leader";
    case Action::promote:
      return "promote";
    case Action::start_primary:
      return "start_primary";
    case Action::start_standby:
      return "start_standby";
    case Action::follow:
      return "follow";
    case Action::rejoin:
      return "rejoin";
    case Action::rewind:
      return "rewind";
    case Action::demote:
      return "demote";
    case Action::clone:
      return "clone";
    case Action::switchover:
      return "switchover";
    case Action::clear_failover:
      return "clear_failover";
    case Action::release_leader:
      return "release_leader";
    case Action::fence:
      return "fence";
    case Action::refuse:
      return "refuse";
  }
  return "unknown";
}

std::optional<SteadyTime> fenceDeadline(const LocalState& local, std::chrono::milliseconds ttl,
                                        std::chrono::milliseconds fence_margin) {
  if (local.lease == 0 || !local.last_renewal_sent) {
    return std::nullopt;
  }
  return *local.last_renewal_sent + ttl - fence_margin;
}

bool leaseValid(const LocalState& local, SteadyTime now, std::chrono::milliseconds ttl,
                std::chrono::milliseconds fence_margin) {
  auto deadline = fenceDeadline(local, ttl, fence_margin);
  return deadline && now < *deadline;
}

bool primaryMayWrite(const LocalState& local, SteadyTime now, std::chrono::milliseconds ttl,
                     std::chrono::milliseconds fence_margin) {
  return leaseValid(local, now, ttl, fence_margin) ||
         (local.failsafe_until && now < *local.failsafe_until);
}

bool holdsLeaderLock(const DecisionInput& in) {
  return in.view.leader && in.view.leader->name == in.local.name &&
         in.view.leader->lease == in.local.lease &&
         leaseValid(in.local, in.now, in.ttl, in.fence_margin);
}

Decision decide(const DecisionInput& in) {
  const auto& v = in.view;
  const auto& l = in.local;
  bool lease_ok = leaseValid(l, in.now, in.ttl, in.fence_margin);

  if (v.paused()) {
    return make(Action::none, "maintenance mode (paused): observing only",
                holdsLeaderLock(in) ? Decision::Role::leader : Decision::Role::none);
  }
  // Safety before anything else: a primary that cannot vouch for its lease (nor, under
  // failsafe_mode, for every member's confirmation) stops writes.
  if (l.pg_running && !l.in_recovery && !primaryMayWrite(l, in.now, in.ttl, in.fence_margin)) {
    return make(Action::fence,
                "cannot vouch for the leader lease (no successful renewal within ttl - "
                "fence_margin, nor under failsafe_mode a confirmation by every member since): "
                "stopping PostgreSQL before the lease can expire");
  }
  if (l.pg_unresponsive) {
    auto waited =
        l.pg_unresponsive_since ? in.now - *l.pg_unresponsive_since : SteadyTime::duration::zero();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(waited).count();
    bool leader = holdsLeaderLock(in);
    if (leader && waited >= in.unresponsive_grace) {
      return make(Action::fence, "PostgreSQL has not answered queries for " +
                                     std::to_string(seconds) +
                                     " s while this member holds the leader lock: stopping it");
    }
    // Starting it (it runs), promoting or comparing it (it does not answer) cannot work yet.
    // A primary among them stays guarded by the lease watchdog meanwhile.
    return make(Action::none,
                "PostgreSQL runs but has not answered queries for " + std::to_string(seconds) +
                    " s (overloaded, or busy starting, stopping or recovering); waiting for it",
                leader ? Decision::Role::leader : Decision::Role::none);
  }
  if (v.initialize && !v.initialize->empty() && l.system_identifier != 0 &&
      std::to_string(l.system_identifier) != *v.initialize) {
    return make(Action::refuse,
                "the data directory belongs to another cluster (system identifier " +
                    std::to_string(l.system_identifier) + ", cluster has " + *v.initialize +
                    "); this member will not join it. Check the scope, or remove "
                    "the data directory (keel ctl reinit) to clone afresh");
  }
  if (!v.initialize || (v.initialize->empty() && !v.leader)) {
    if (v.leader) {
      return make(Action::none, "member " + v.leader->name + " is bootstrapping the cluster");
    }
    if (!lease_ok) {
      return make(Action::none, "cluster not initialized; waiting for a lease before bootstrap");
    }
    if (l.data_initialized) {
      if (!l.pg_running) {
        return make(Action::start_standby,
                    "cluster not initialized in the DCS but local data exists: starting "
                    "PostgreSQL read-only to compare WAL positions");
      }
      if (auto blocker = electionBlocker(in)) {
        return make(Action::none, "cluster not initialized in the DCS, but " + *blocker);
      }
      return make(Action::bootstrap,
                  "cluster not initialized in the DCS: adopting this member's existing data",
                  Decision::Role::leader);
    }
    return make(Action::bootstrap, "cluster not initialized: bootstrapping a new cluster",
                Decision::Role::leader);
  }
  if (v.initialize->empty()) {
    if (v.leader->name == l.name && holdsLeaderLock(in)) {
      return make(Action::none, "bootstrapping the cluster", Decision::Role::leader);
    }
    return make(Action::none, "member " + v.leader->name + " is bootstrapping the cluster");
  }
  if (holdsLeaderLock(in)) {
    return decideAsLeader(in);
  }
  if (v.leader) {
    return decideAsFollower(in);
  }
  if (!lease_ok) {
    return make(Action::none, "leader lock is free but this member has no valid lease yet");
  }
  return decideWithoutLeader(in);
}

std::map<std::string, std::string> ineligibleMembers(const ClusterView& view,
                                                     WalPosition leader_position,
                                                     std::uint64_t maximum_lag) {
  std::map<std::string, std::string> out;
  for (const auto& [name, m] : view.members) {
    if (view.leader && view.leader->name == name) {
      out[name] = "is the leader";
    } else if (m.nofailover) {
      out[name] = "tagged nofailover";
    } else if (m.failover_priority <= 0) {
      out[name] = "failover_priority is 0";
    } else if (m.role != "replica") {
      out[name] = "is not a running replica (role " + m.role + ", state " + m.state + ")";
    } else if (m.state != "streaming" && m.state != "running") {
      out[name] = "PostgreSQL is " + m.state;
    } else if (leader_position > m.wal_position &&
               leader_position.value - m.wal_position.value > maximum_lag) {
      out[name] = "lag " + bytes(leader_position.value - m.wal_position.value) +
                  " exceeds maximum_lag_on_failover (" + bytes(maximum_lag) + ")";
    }
  }
  return out;
}

std::optional<std::string> pickSwitchoverCandidate(const ClusterView& view,
                                                   const std::string& leader,
                                                   std::uint64_t maximum_lag) {
  const MemberRecord* lm = view.member(leader);
  WalPosition leader_pos = lm ? lm->wal_position : WalPosition{};
  auto inelig = ineligibleMembers(view, leader_pos, maximum_lag);
  const MemberRecord* best = nullptr;
  auto better = [](const MemberRecord& a, const MemberRecord& b) {
    bool as = a.replication_state == "streaming", bs = b.replication_state == "streaming";
    if (as != bs)
      return as;
    if (a.wal_position != b.wal_position)
      return a.wal_position > b.wal_position;
    if (a.failover_priority != b.failover_priority) {
      return a.failover_priority > b.failover_priority;
    }
    return a.name < b.name;
  };
  for (const auto& [name, m] : view.members) {
    if (name == leader || inelig.count(name)) {
      continue;
    }
    if (!best || better(m, *best)) {
      best = &m;
    }
  }
  if (!best) {
    return std::nullopt;
  }
  return best->name;
}

}  // namespace keel::ha
