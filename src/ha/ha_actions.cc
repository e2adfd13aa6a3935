// The HA loop's actions: each carries out one Decision against PostgreSQL (on the worker
// thread) and the DCS (on the control thread). A failed action logs what happened and leaves
// the next cycle to decide again from what it then observes.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/async.h"
#include "ha/ha_loop.h"

namespace keel::ha {

namespace asio = boost::asio;
using dcs::Compare;
using dcs::Operation;
using nlohmann::json;

namespace {

std::string slotFor(const Config& c) {
  return pg::slotNameFor(c.name);
}

}  // namespace

asio::awaitable<void> HaLoop::execute(const Decision& d, const ClusterView& view,
                                      const LocalState& local) {
  const Config& c = *config_;
  auto endpoint = [&](const std::string& member) -> std::optional<pg::PgEndpoint> {
    const MemberRecord* m = view.member(member);
    if (!m || m->host.empty() || m->port == 0)
      return std::nullopt;
    return pg::PgEndpoint{m->host, m->port};
  };
  auto logFailure = [](const char* what, const auto& r) {
    if (!r)
      spdlog::error("{} failed: {}", what, r.message());
    return r.ok();
  };

  switch (d.action) {
    case Action::none:
    case Action::refuse:
      co_return;
    case Action::fence:
      fenceNow(d.reason);
      co_return;
    case Action::bootstrap:
      co_await bootstrap(view, local);
      co_return;
    case Action::acquire_leader:
      co_await acquireLeader(view, local, d.reason);
      co_return;
    case Action::promote: {
      if (!co_await prepareSyncForPromotion(view))
        co_return;
      auto promote = [this] { return pg_.promote(); };
      auto r = co_await worker_.run(promote);
      if (logFailure("promote", r)) {
        upstream_.clear();
        markPrimary();
        promoted_at_ = clock_.now();
      }
      co_return;
    }
    case Action::start_primary: {
      auto start_primary = [this] { return pg_.startPrimary(); };
      auto r = co_await worker_.run(start_primary);
      if (logFailure("starting PostgreSQL as primary", r)) {
        upstream_.clear();
        markPrimary();
        promoted_at_ = clock_.now();  // its standbys reconnect in a moment: see manageSync
        standby_names_seen_.reset();  // as its configuration files say: read it again
      }
      co_return;
    }
    case Action::start_standby: {
      auto ep = d.target.empty() ? std::optional<pg::PgEndpoint>{} : endpoint(d.target);
      if (!d.target.empty() && !ep)
        co_return;
      pg::PgEndpoint upstream = ep.value_or(pg::PgEndpoint{});
      auto start_standby = [this, upstream, slot = slotFor(c)] {
        return pg_.startStandby(upstream, slot);
      };
      auto r = co_await worker_.run(start_standby);
      if (logFailure("starting PostgreSQL as a standby", r))
        upstream_ = d.target;
      co_return;
    }
    case Action::follow: {
      auto ep = endpoint(d.target);
      if (!ep)
        co_return;
      auto repoint_standby = [this, ep = *ep, slot = slotFor(c)] {
        return pg_.followUpstream(ep, slot);
      };
      auto r = co_await worker_.run(repoint_standby);
      if (logFailure("repointing the standby", r))
        upstream_ = d.target;
      co_return;
    }
    case Action::demote:
    case Action::rewind: {
      spdlog::warn("{}: {}", d.action == Action::demote ? "demoting" : "rewinding", d.reason);
      auto stop_for_demotion = [this] {
        auto s = pg_.stop(pg::Postgres::StopMode::fast);
        if (!s)
          pg_.fence();
        return 0;
      };
      auto r = co_await worker_.run(stop_for_demotion);
      (void)r;
      upstream_.clear();
      if (!d.target.empty()) {
        co_await rejoin(view, d.target, true);
      }
      co_return;
    }
    case Action::rejoin:
      co_await rejoin(view, d.target, false);
      co_return;
    case Action::clone: {
      auto ep = endpoint(d.target);
      if (!ep)
        co_return;
      activity_ = "cloning";
      LocalObservation nothing_yet;
      co_await publish(nothing_yet);
      auto clone_and_start = [this, ep = *ep, slot = slotFor(c)]() -> pg::PgResult<void> {
        auto b = pg_.basebackup(ep, slot);
        if (!b)
          return b;
        return pg_.startStandby(ep, slot);
      };
      auto r = co_await worker_.run(clone_and_start);
      activity_.clear();
      if (logFailure("cloning from the leader", r))
        upstream_ = d.target;
      co_return;
    }
    case Action::switchover:
      co_await switchover(view, d.target, d.reason);
      co_return;
    case Action::clear_failover:
      co_await clearFailover(view, d.reason);
      co_return;
    case Action::release_leader:
      co_await releaseLeader();
      co_return;
  }
}

asio::awaitable<void> HaLoop::bootstrap(const ClusterView& view, const LocalState& local) {
  const std::string init_key = key(keys::kInitialize);
  const std::string leader_key = key(keys::kLeader);
  dcs::Txn claim;
  claim.compare.push_back(view.initialize ? Compare::valueIs(init_key, "")
                                          : Compare::absent(init_key));
  claim.compare.push_back(Compare::absent(leader_key));
  claim.success.push_back(Operation::put(init_key, ""));
  claim.success.push_back(Operation::put(leader_key, config_->name, local.lease));
  auto r = co_await dcs_.txn(claim);
  if (!r || !r->succeeded) {
    if (!r)
      spdlog::warn("cannot claim the bootstrap: {}", r.message());
    co_return;
  }
  bool adopt = local.data_initialized;
  spdlog::info(adopt ? "bootstrap: adopting the existing data directory"
                     : "bootstrap: initializing a new cluster");
  activity_ = "bootstrapping";
  LocalObservation nothing_yet;
  co_await publish(nothing_yet);
  auto initialize_primary = [this, adopt]() -> pg::PgResult<std::uint64_t> {
    if (!adopt) {
      if (auto i = pg_.initdb(); !i)
        return i.failure();
    }
    if (pg_.running()) {
      auto st = pg_.status();
      if (st && st->in_recovery) {
        if (auto p = pg_.promote(); !p)
          return p.failure();
      }
    } else if (auto s = pg_.startPrimary(); !s) {
      return s.failure();
    }
    // An adopted data directory may carry synchronous_standby_names from an earlier cluster,
    // which would hold the role commits below for standbys that do not exist; manageSync sets
    // it for this cluster afterwards.
    if (auto ssn = pg_.setSynchronousStandbyNames(""); !ssn)
      return ssn.failure();
    if (auto roles = pg_.createRoles(); !roles)
      return roles.failure();
    auto st = pg_.status();
    if (!st)
      return st.failure();
    return st->system_identifier;
  };
  auto result = co_await worker_.run(initialize_primary);
  activity_.clear();
  markPrimary();  // whatever the outcome: a writable server must be guarded at once
  if (!result) {
    spdlog::error("bootstrap failed: {}; releasing the claim so it can be retried",
                  result.message());
    dcs::Txn undo;
    undo.compare.push_back(Compare::valueIs(init_key, ""));
    undo.success.push_back(Operation::del(init_key));
    undo.success.push_back(Operation::del(leader_key));
    co_await dcs_.txn(undo);
    co_return;
  }
  auto put = co_await dcs_.put(init_key, std::to_string(*result));
  if (!put) {
    spdlog::error("cannot record the system identifier: {}", put.message());
    co_return;
  }
  upstream_.clear();
  spdlog::info("bootstrap complete: system identifier {}", *result);
  HistoryRecord h{.timeline = 1,
                  .reason = adopt ? "bootstrap from existing data" : "bootstrap",
                  .time = wallClockSeconds(),
                  .new_leader = config_->name,
                  .kind = "bootstrap"};
  co_await appendHistory(h);
}

asio::awaitable<bool> HaLoop::acquireLeader(const ClusterView& view, const LocalState& local,
                                            std::string reason) {
  dcs::Txn t;
  t.compare.push_back(Compare::absent(key(keys::kLeader)));
  t.success.push_back(Operation::put(key(keys::kLeader), config_->name, local.lease));
  auto r = co_await dcs_.txn(t);
  if (!r) {
    spdlog::warn("cannot take the leader lock: {}", r.message());
    co_return false;
  }
  if (!r->succeeded) {
    spdlog::info("another member took the leader lock first");
    co_return false;
  }
  spdlog::warn("took the leader lock: {}", reason);
  bool requested = view.failover && view.failover->candidate == config_->name;
  std::string old_leader =
      requested && !view.failover->leader.empty() ? view.failover->leader : last_seen_leader_;
  WalPosition before = local.wal_position;
  LocalState now_state = local;
  auto ls = lease_.state();
  now_state.lease = ls.lease;
  now_state.last_renewal_sent = ls.last_renewal_sent;
  if (ls.lease != local.lease ||
      !leaseValid(now_state, clock_.now(), config_->ha.ttl, config_->ha.fence_margin)) {
    spdlog::warn("lease no longer valid after taking the lock; not promoting");
    co_return false;
  }
  if (local.in_recovery) {
    // Keep the lock when either step fails: the next cycle retries promote (or start_primary
    // if it went down); releasing would only start another election with the same outcome.
    if (!co_await prepareSyncForPromotion(view))
      co_return true;
    auto promote_after_lock = [this] { return pg_.promote(); };
    auto p = co_await worker_.run(promote_after_lock);
    if (!p) {
      spdlog::error("promote failed: {}", p.message());
      co_return true;
    }
    promoted_at_ = clock_.now();
  }
  markPrimary();
  upstream_.clear();
  if (!local.in_recovery) {
    // The lock came back to a primary that kept running (under failsafe_mode, after the DCS
    // was out of reach): no promotion, no new timeline, nothing for the history.
    spdlog::warn("holding the leader lock again; PostgreSQL stayed primary meanwhile");
    co_return true;
  }
  spdlog::warn("promoted: this member is now the primary");
  // The former leader's record expired with its lease, so the members' slots would miss it;
  // it comes back as a standby of this member (rewound), and streams only through its slot.
  if (!old_leader.empty() && old_leader != config_->name && !view.member(old_leader))
    former_leader_ = old_leader;
  // The proxies route writes here once this member's record says it runs as primary: publish
  // it now, before the bookkeeping below. The members' slots come right after: the replicas
  // are streaming members that only need them once they follow, and a member cloning in this
  // instant fails on the missing slot and retries.
  LocalObservation promoted = co_await observe();
  double published_at = 0;  // when the proxies could route writes here
  if (promoted.status && !promoted.status->in_recovery) {
    co_await publish(promoted);
    published_at = wallClockSeconds();
    if (view_observer_) {
      // This agent's own proxy, too, without waiting for the next cycle's view.
      ClusterView now = view;
      now.leader = LeaderRecord{.name = config_->name, .lease = lease_.state().lease};
      now.members[config_->name] = memberRecord(promoted, false);
      view_observer_(now);
    }
    co_await leaderHousekeeping(view, promoted);
  }
  auto read_status = [this] { return pg_.status(); };
  auto st = co_await worker_.run(read_status);
  HistoryRecord h{.timeline = st ? st->timeline : local.timeline + 1,
                  .lsn = before,
                  .reason = reason,
                  .time = wallClockSeconds(),
                  .old_leader = old_leader,
                  .new_leader = config_->name,
                  .kind = requested && !view.failover->leader.empty() ? "switchover" : "failover"};
  if (h.kind == "failover") {
    // What a failover may have lost: nothing under a sync key (the election rule admits only
    // members holding every acknowledged commit); else up to the gap between the old leader's
    // last published position and this member's, which the election bounded by
    // maximum_lag_on_failover.
    if (syncRestricts(view)) {
      h.replication = "synchronous";
    } else {
      h.replication = "asynchronous";
      if (view.last_leader_position) {
        h.possible_loss_bytes = *view.last_leader_position > before
                                    ? view.last_leader_position->value - before.value
                                    : 0;
        h.reason += "; asynchronous replication: up to " + std::to_string(*h.possible_loss_bytes) +
                    " bytes of WAL the old leader last reported may be lost";
      }
    }
  }
  if (requested && view.failover->paused_at > 0) {
    // From the old leader's pause to this member's record saying it runs as primary, which
    // ends the proxies' pause (wall clocks of two hosts).
    double resumed_at = published_at > 0 ? published_at : h.time;
    h.pause_ms = std::max<std::int64_t>(
        0, static_cast<std::int64_t>((resumed_at - view.failover->paused_at) * 1000.0));
    h.reason += "; read-write clients paused " + std::to_string(h.pause_ms) + " ms";
  }
  if (view.failover) {
    dcs::Txn clear;
    clear.compare.push_back(
        Compare::modRevisionIs(key(keys::kFailover), view.failover->mod_revision));
    clear.success.push_back(Operation::del(key(keys::kFailover)));
    co_await dcs_.txn(clear);
  }
  co_await appendHistory(h);
  co_return true;
}

asio::awaitable<void> HaLoop::appendHistory(HistoryRecord record) {
  auto cur = co_await dcs_.get(key(keys::kHistory));
  if (!cur) {
    pending_history_ = record;
    co_return;
  }
  json arr = json::array();
  std::int64_t rev = 0;
  if (!cur->kvs.empty()) {
    rev = cur->kvs.front().mod_revision;
    auto j = json::parse(cur->kvs.front().value, nullptr, false);
    if (j.is_array())
      arr = j;
  }
  arr.push_back(record.toJson());
  dcs::Txn t;
  t.compare.push_back(rev == 0 ? Compare::absent(key(keys::kHistory))
                               : Compare::modRevisionIs(key(keys::kHistory), rev));
  t.success.push_back(Operation::put(key(keys::kHistory), arr.dump()));
  auto r = co_await dcs_.txn(t);
  if (r && r->succeeded) {
    pending_history_.reset();
  } else {
    pending_history_ = record;  // retried by the leader's next cycle
  }
}

asio::awaitable<void> HaLoop::rejoin(const ClusterView& view, std::string leader,
                                     bool force_rewind) {
  const MemberRecord* lm = view.member(leader);
  if (!lm || lm->host.empty())
    co_return;
  pg::PgEndpoint source{lm->host, lm->port};
  const Config& c = *config_;
  bool leader_is_me = view.leader && view.leader->name == c.name;
  activity_ = "rewinding";
  LocalObservation stopped_data;
  stopped_data.data_initialized = true;
  co_await publish(stopped_data);
  auto rewind_and_start = [this, source, leader_timeline = lm->timeline, leader_is_me, force_rewind,
                           &c]() -> pg::PgResult<std::string> {
    auto cd = pg_.controlData();
    if (!cd)
      return cd.failure();
    bool need_rewind = true;
    if (cd->cleanly_shut_down() && !force_rewind) {
      // A clean shutdown (switchover) needs no rewind when what this member holds lies on the
      // leader's history: its last checkpoint, and for a standby the end of the WAL it replayed
      // (its minimum recovery point), each no further than where the leader's timeline forked
      // off the timeline it is on.
      auto hist = pg_.timelineHistory(source, leader_timeline);
      if (hist) {
        auto onLeaderHistory = [&](int tl, WalPosition pos, bool is_record_start) {
          if (tl == leader_timeline)
            return true;
          for (const auto& [htl, switch_lsn] : *hist) {
            if (htl == tl)
              return is_record_start ? pos < switch_lsn : pos <= switch_lsn;
          }
          return false;
        };
        need_rewind = !onLeaderHistory(cd->timeline, cd->checkpoint_location, true);
        if (!need_rewind && cd->min_recovery_end.value != 0) {
          need_rewind =
              !onLeaderHistory(cd->min_recovery_end_timeline, cd->min_recovery_end, false);
        }
      }
    }
    if (need_rewind) {
      if (!c.postgresql.use_pg_rewind) {
        return fail(pg::PgErrc::refused,
                    "this former primary needs pg_rewind, but postgresql.use_pg_rewind is off");
      }
      auto rw = pg_.rewind(source);
      if (!rw && rw.code() == pg::PgErrc::source_in_recovery) {
        // The leader holds the lock but is still being promoted (right after a switchover):
        // the data here is fine, so wait for it rather than copy everything again.
        return fail(rw.code(), rw.message() +
                                   "; the leader is still finishing its promotion: trying again "
                                   "on the next cycle");
      }
      if (!rw) {
        if (!c.postgresql.reclone_on_rewind_failure || leader_is_me) {
          return fail(pg::PgErrc::command_failed,
                      "pg_rewind failed and re-cloning is off: " + rw.message());
        }
        spdlog::warn("pg_rewind failed ({}); re-cloning from the leader", rw.message());
        if (auto rm = pg_.removeDataDirectory(); !rm)
          return rm.failure();
        if (auto b = pg_.basebackup(source, pg::slotNameFor(c.name)); !b)
          return b.failure();
        // Started as a standby at once, as a clone is: left stopped, the copy's control file
        // ("in production", from the running leader) would pass for a former primary's, and
        // the next rejoin would run pg_rewind on it, whose crash recovery ends the backup's
        // recovery off the leader's timeline.
        if (auto st = pg_.startStandby(source, pg::slotNameFor(c.name)); !st)
          return st.failure();
        return std::string("re-cloned");
      }
    }
    auto s = pg_.startStandby(source, pg::slotNameFor(c.name));
    if (!s)
      return s.failure();
    return std::string(need_rewind ? "rewound" : "no rewind needed");
  };
  auto r = co_await worker_.run(rewind_and_start);
  activity_.clear();
  if (r) {
    spdlog::info("rejoined as a replica of {} ({})", leader, *r);
    upstream_ = leader;
  } else {
    spdlog::error("rejoining {} failed: {}", leader, r.message());
  }
}

asio::awaitable<void> HaLoop::clearFailover(const ClusterView& view, std::string reason) {
  if (!view.failover)
    co_return;
  spdlog::warn("{}", reason);
  dcs::Txn t;
  t.compare.push_back(Compare::modRevisionIs(key(keys::kFailover), view.failover->mod_revision));
  t.success.push_back(Operation::del(key(keys::kFailover)));
  co_await dcs_.txn(t);
}

asio::awaitable<void> HaLoop::releaseLeader() {
  auto ls = lease_.state();
  lease_.setServingPrimary(false);
  dcs::Txn t;
  t.compare.push_back(Compare::valueIs(key(keys::kLeader), config_->name));
  t.compare.push_back(Compare::leaseIs(key(keys::kLeader), ls.lease));
  t.success.push_back(Operation::del(key(keys::kLeader)));
  auto r = co_await dcs_.txn(t);
  if (!r)
    spdlog::warn("cannot release the leader lock: {}", r.message());
}

// Planned switchover, run by the leader: checkpoint, stop writes with a clean shutdown (whose
// final checkpoint the walsenders send to every connected standby), wait until the candidate
// has replayed past it, then release the lock. The failover key still names the candidate, so
// it alone takes the lock and promotes; no acknowledged write can be lost.
asio::awaitable<bool> HaLoop::updateFailover(ClusterView& view, FailoverRequest request) {
  const std::string value = request.toJson().dump();
  dcs::Txn t;
  t.compare.push_back(Compare::modRevisionIs(key(keys::kFailover), view.failover->mod_revision));
  t.success.push_back(Operation::put(key(keys::kFailover), value));
  auto put = co_await dcs_.txn(t);
  if (put && put->succeeded) {
    request.mod_revision = put->revision;
    view.failover = request;
    co_return true;
  }
  // A compare that fails, or an error, after an attempt that timed out may hide that attempt's
  // success (the DCS client retries on another endpoint): the key then holds exactly what we
  // wrote. (Timestamps in the value make it ours alone.)
  const std::string failover_key = key(keys::kFailover);
  auto now = co_await dcs_.get(failover_key);
  if (now && now->kvs.size() == 1 && now->kvs.front().value == value) {
    request.mod_revision = now->kvs.front().mod_revision;
    view.failover = request;
    co_return true;
  }
  spdlog::warn("switchover: cannot update the request ({})",
               put ? std::string("it changed meanwhile") : put.message());
  co_return false;
}

asio::awaitable<void> HaLoop::pauseClients(ClusterView& view) {
  if (!view.failover || view.failover->leader != config_->name) {
    co_return;
  }
  FailoverRequest request = *view.failover;
  request.paused_at = wallClockSeconds();
  bool marked = co_await updateFailover(view, request);
  if (!marked) {
    co_return;  // proxies keep lending; clients in transactions may get an error
  }
  // This agent's own proxy pauses at once; the others when their loops see the request.
  if (view_observer_) {
    view_observer_(view);
    proxy_paused_at_ = request.paused_at;
  }
  const auto started = clock_.now();
  // A proxy confirms in its member record. One that does not within a second is taken to be
  // down or cut off; its clients may see an error.
  constexpr auto kConfirmTimeout = std::chrono::seconds(1);
  std::vector<std::string> unconfirmed;
  while (true) {
    unconfirmed.clear();
    auto current = co_await readView();
    if (current) {
      for (const auto& [name, m] : current->members) {
        if (name != config_->name && !m.proxy.empty() && m.proxy_paused_at != request.paused_at) {
          unconfirmed.push_back(name);
        }
      }
    }
    if (current && unconfirmed.empty()) {
      break;
    }
    if (clock_.now() - started >= kConfirmTimeout) {
      std::string names;
      for (const auto& n : unconfirmed) {
        names += (names.empty() ? "" : ", ") + n;
      }
      spdlog::warn(
          "switchover: the proxies of {} did not confirm the pause within 1 s; their clients "
          "may get an error",
          names.empty() ? std::string("the other members (DCS unreadable)") : names);
      break;
    }
    co_await sleepFor(std::chrono::milliseconds(10));
  }
  const auto confirmed = clock_.now();
  // Transactions already lent a connection finish, within ha.switchover_drain_timeout; stopping
  // PostgreSQL ends the rest with 57P01. Two quiet looks in a row: a statement may be on its way.
  int quiet = 0;
  int busy_left = 0;
  while (quiet < 2) {
    auto count_busy = [this] { return pg_.busyClientSessions(); };
    auto busy = co_await worker_.run(count_busy);
    busy_left = busy ? *busy : -1;
    quiet = busy_left == 0 ? quiet + 1 : 0;
    if (quiet < 2 && clock_.now() - confirmed >= config_->ha.switchover_drain_timeout) {
      spdlog::warn(
          "switchover: {} client sessions still busy after ha.switchover_drain_timeout ({} ms); "
          "stopping PostgreSQL ends them",
          busy_left < 0 ? std::string("unknown (") + busy.message() + ")"
                        : std::to_string(busy_left),
          config_->ha.switchover_drain_timeout.count());
      break;
    }
    if (quiet < 2) {
      co_await sleepFor(std::chrono::milliseconds(10));
    }
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  spdlog::info("switchover: proxies paused (confirmed in {} ms), transactions drained in {} ms",
               ms(confirmed - started), ms(clock_.now() - confirmed));
}

asio::awaitable<void> HaLoop::switchover(const ClusterView& seen, std::string candidate,
                                         std::string reason) {
  // The request is updated on the way (paused_at, final_lsn): `view` follows its revision.
  ClusterView view = seen;
  const MemberRecord* cm = view.member(candidate);
  if (!cm) {
    std::string why = "switchover cancelled: candidate " + candidate + " is gone";
    co_await clearFailover(view, why);
    co_return;
  }
  spdlog::warn("switchover to {}: {}", candidate, reason);
  auto checkpoint = [this] {
    auto r = pg_.checkpoint();
    if (!r)
      spdlog::warn("checkpoint before switchover failed: {}", r.message());
    return 0;
  };
  co_await worker_.run(checkpoint);
  // A request that named no candidate names the chosen one from its next write on (the pause,
  // or the final position), so that the others wait for it when the lock is released instead
  // of holding an election.
  if (view.failover && view.failover->candidate.empty()) {
    view.failover->candidate = candidate;
  }
  co_await pauseClients(view);
  lease_.setServingPrimary(false);
  auto stop_cleanly = [this]() -> pg::PgResult<pg::ControlData> {
    if (auto s = pg_.stop(pg::Postgres::StopMode::fast); !s)
      return s.failure();
    return pg_.controlData();
  };
  auto stopped = co_await worker_.run(stop_cleanly);
  auto abort = [&](std::string why) -> asio::awaitable<void> {
    spdlog::error("switchover to {} aborted: {}; staying the leader", candidate, why);
    auto restart_primary = [this] { return pg_.startPrimary(); };
    auto s = co_await worker_.run(restart_primary);
    if (s) {
      markPrimary();
    } else {
      spdlog::error("restarting PostgreSQL as primary failed: {}", s.message());
    }
    std::string message = "switchover to " + candidate + " aborted: " + why;
    co_await clearFailover(view, message);
  };
  if (!stopped) {
    std::string why = "PostgreSQL did not stop cleanly: " + stopped.message();
    co_await abort(why);
    co_return;
  }
  WalPosition final_lsn = stopped->checkpoint_location;
  spdlog::info("switchover: primary stopped at {}; waiting for {} to replay it", final_lsn.str(),
               candidate);
  if (view.failover) {
    // Wakes every member's loop, so that the candidate publishes its replay position now.
    FailoverRequest stopped_request = *view.failover;
    stopped_request.final_lsn = final_lsn.str();
    co_await updateFailover(view, stopped_request);
  }
  auto deadline = clock_.now() + std::chrono::seconds(30);
  bool caught_up = false;
  while (clock_.now() < deadline) {
    auto pos = co_await prober_.replayPosition(*cm, std::chrono::milliseconds(1000));
    if (pos && *pos > final_lsn) {
      caught_up = true;
      break;
    }
    co_await sleepFor(std::chrono::milliseconds(50));
  }
  if (!caught_up) {
    std::string why =
        "candidate did not replay the final WAL position " + final_lsn.str() + " within 30 s";
    co_await abort(why);
    co_return;
  }
  auto ls = lease_.state();
  dcs::Txn t;
  t.compare.push_back(Compare::valueIs(key(keys::kLeader), config_->name));
  t.compare.push_back(Compare::leaseIs(key(keys::kLeader), ls.lease));
  t.success.push_back(Operation::del(key(keys::kLeader)));
  auto r = co_await dcs_.txn(t);
  if (!r || !r->succeeded) {
    std::string why = r ? std::string("the leader lock changed hands during the switchover")
                        : "cannot release the leader lock: " + r.message();
    co_await abort(why);
    co_return;
  }
  spdlog::warn("switchover: leader lock released for {}", candidate);
}

}  // namespace keel::ha
