#include "ha/ha_loop.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/async.h"

namespace keel::ha {

namespace asio = boost::asio;
using nlohmann::json;

HaLoop::HaLoop(std::shared_ptr<const Config> config, dcs::Dcs& dcs, pg::Postgres& postgres,
               PeerProber& prober, const Clock& clock)
    : config_(std::move(config)),
      dcs_(dcs),
      pg_(postgres),
      prober_(prober),
      clock_(clock),
      lease_(dcs, clock, config_->ha.ttl, config_->ha.fence_margin,
             [this](std::string why) { fenceNow(why); }),
      started_at_(clock.now()) {
  lease_.setFailsafe([this] { return confirmFailsafe(); });
}

HaLoop::~HaLoop() = default;

void HaLoop::fenceNow(const std::string& why) {
  // Runs on the control thread (watchdog) or in a cycle; Postgres::fence is thread-safe.
  spdlog::error("fencing: {}; PostgreSQL killed so it accepts no more writes", why);
  pg_.fence();
  lease_.setServingPrimary(false);
  std::lock_guard lock(mu_);
  fenced_ = true;
}

void HaLoop::stop() {
  stopping_ = true;
  lease_.stop();
}

asio::awaitable<void> HaLoop::run() {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, lease_.runRenewals(), asio::detached);
  asio::co_spawn(ex, lease_.runWatchdog(), asio::detached);
  asio::co_spawn(ex, lease_.runFailsafe(), asio::detached);
  spdlog::info("member {} of cluster {} starting; DCS {}", config_->name, config_->scope,
               dcs_.describe());
  while (!stopping_) {
    std::int64_t revision = 0;
    try {
      co_await cycle();
      std::lock_guard lock(mu_);
      revision = view_ ? view_->revision : 0;
    } catch (const std::exception& e) {
      spdlog::error("HA cycle failed: {}", e.what());
    }
    if (stopping_)
      break;
    co_await waitForChange(revision);
  }
}

HaLoop::ChangeFilter HaLoop::changeFilter(const ClusterView* view) const {
  ChangeFilter f;
  f.own_member = key(keys::kMembers) + config_->name;
  f.members = key(keys::kMembers);
  f.status = key(keys::kStatus);
  f.history = key(keys::kHistory);
  if (view && view->leader) {
    f.leader_member = f.members + view->leader->name;
    if (const MemberRecord* m = view->member(view->leader->name)) {
      f.leader_record = *m;
    }
  }
  return f;
}

bool HaLoop::ChangeFilter::matters(const dcs::WatchEvent& ev) const {
  const std::string& k = ev.kv.key;
  if (k == own_member || k == status || k == history)
    return false;
  if (k.rfind(members, 0) != 0 || ev.type != dcs::WatchEvent::Type::put || ev.kv.version <= 1)
    return true;  // joins, departures and every non-member key
  // Another member's routine status update is not worth a cycle; a change of the leader's
  // role or state is (a new leader reports it runs as primary: routes follow at once).
  if (k != leader_member)
    return false;
  auto now = MemberRecord::fromJson("", nlohmann::json::parse(ev.kv.value, nullptr, false));
  return !now || !leader_record || now->role != leader_record->role ||
         now->state != leader_record->state;
}

asio::awaitable<void> HaLoop::waitForChange(std::int64_t revision) {
  auto deadline = clock_.now() + config_->ha.loop_wait;
  if (revision == 0) {
    co_await sleepFor(config_->ha.loop_wait);
    co_return;
  }
  const std::string prefix = config_->dcs_prefix();
  ChangeFilter filter;
  {
    std::lock_guard lock(mu_);
    filter = changeFilter(view_ ? &*view_ : nullptr);
  }
  std::int64_t next = revision + 1;
  while (!stopping_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now());
    if (left.count() <= 0)
      co_return;
    auto w = co_await dcs_.watch(prefix, next, left);
    if (!w) {
      // The DCS is unreachable; the cycle reports it. Do not spin.
      auto rest = deadline - clock_.now();
      if (rest.count() > 0)
        co_await sleepFor(rest);
      co_return;
    }
    if (w->compacted)
      co_return;
    for (const auto& ev : w->events) {
      if (filter.matters(ev))
        co_return;
    }
    next = w->revision + 1;
  }
}

asio::awaitable<void> HaLoop::followRoutes(std::shared_ptr<const bool> active, ClusterView view) {
  // Short watches, so that this coroutine notices soon that the action ended.
  constexpr std::chrono::milliseconds kWatchSlice{250};
  const std::string prefix = config_->dcs_prefix();
  std::int64_t next = view.revision + 1;
  ChangeFilter filter = changeFilter(&view);
  while (*active && !stopping_) {
    auto w = co_await dcs_.watch(prefix, next, kWatchSlice);
    if (!*active || stopping_)
      co_return;
    if (!w) {
      co_await sleepFor(kWatchSlice);
      continue;
    }
    bool changed = w->compacted;
    for (const auto& ev : w->events) {
      changed = changed || filter.matters(ev);
    }
    next = w->revision + 1;
    if (!changed)
      continue;
    auto fresh = co_await readView();
    // The cycle takes the routes over again once the action is over: a view read before that
    // must not overwrite the ones it applies.
    if (!*active || stopping_ || !fresh)
      continue;
    next = fresh->revision + 1;
    filter = changeFilter(&*fresh);
    if (fresh->revision < observed_revision_)
      continue;
    observed_revision_ = fresh->revision;
    view_observer_(*fresh);
    proxy_paused_at_ = fresh->failover ? fresh->failover->paused_at : 0;
  }
}

asio::awaitable<std::optional<ClusterView>> HaLoop::readView() {
  auto r = co_await dcs_.get(config_->dcs_prefix(), true);
  if (!r) {
    std::lock_guard lock(mu_);
    if (dcs_error_ != r.message())
      spdlog::warn("cannot read the cluster state: {}", r.message());
    dcs_error_ = r.message();
    co_return std::nullopt;
  }
  std::vector<RawKey> raw;
  raw.reserve(r->kvs.size());
  for (auto& kv : r->kvs) {
    raw.push_back(RawKey{kv.key, kv.value, kv.mod_revision, kv.lease});
  }
  std::vector<std::string> problems;
  ClusterView view = decodeClusterView(config_->dcs_prefix(), raw, r->revision, &problems);
  for (const auto& p : problems)
    spdlog::warn("DCS: {}", p);
  {
    std::lock_guard lock(mu_);
    if (!dcs_error_.empty())
      spdlog::info("DCS reachable again");
    dcs_error_.clear();
  }
  co_return view;
}

asio::awaitable<LocalObservation> HaLoop::observe() {
  auto read_local_state = [this] {
    LocalObservation obs;
    obs.data_initialized = pg_.initialized();
    obs.running = pg_.running();
    if (obs.running) {
      auto st = pg_.status();
      if (st) {
        obs.status = *st;
        worker_last_status_ = *st;
      } else {
        obs.error = st.message();
        obs.last_status = worker_last_status_;
      }
    } else {
      worker_last_status_.reset();
    }
    if (!obs.running && obs.data_initialized) {
      auto cd = pg_.controlData();
      if (cd) {
        obs.control = *cd;
      } else {
        obs.error = cd.message();
      }
    }
    return obs;
  };
  co_return co_await worker_.run(read_local_state);
}

LocalState HaLoop::localState(const LocalObservation& obs) const {
  LocalState l;
  l.name = config_->name;
  l.data_initialized = obs.data_initialized;
  // A postmaster that does not answer queries cannot be compared or promoted: treat it as not
  // running for decisions (it is still fenced by the watchdog if it was a primary).
  l.pg_running = obs.running && obs.status.has_value();
  l.pg_unresponsive = obs.running && !obs.status.has_value();
  l.pg_unresponsive_since = unresponsive_since_;
  if (obs.status) {
    l.in_recovery = obs.status->in_recovery;
    l.wal_position = obs.status->wal_position();
    l.timeline = obs.status->timeline;
    l.system_identifier = obs.status->system_identifier;
  } else if (obs.control) {
    l.in_recovery = true;
    l.stopped_as_primary =
        obs.control->cluster_state == "in production" || obs.control->cluster_state == "shut down";
    l.wal_position = obs.control->checkpoint_location;
    l.timeline = obs.control->timeline;
    l.system_identifier = obs.control->system_identifier;
  }
  l.upstream = upstream_;
  auto ls = lease_.state();
  l.lease = ls.lease;
  l.last_renewal_sent = ls.last_renewal_sent;
  l.failsafe_until = ls.failsafe_until;
  l.nofailover = config_->tags.nofailover;
  l.failover_priority = config_->tags.failover_priority;
  {
    std::lock_guard lock(mu_);
    l.fenced = fenced_;
    l.failsafe_holdoff = failsafe_holdoff_;
  }
  return l;
}

std::optional<LocalState::FailsafeHoldoff> HaLoop::startupHoldoff() const {
  auto until = started_at_ + config_->ha.ttl;
  if (clock_.now() >= until)
    return std::nullopt;
  return LocalState::FailsafeHoldoff{"", until};
}

void HaLoop::markPrimary() {
  primary_lease_ = lease_.state().lease;
  lease_.servingUnderCurrentLease();
}

asio::awaitable<void> HaLoop::cycle() {
  auto view = co_await readView();
  LocalObservation obs = co_await observe();
  // Fencing does not depend on the DCS answering: a writable PostgreSQL is always guarded by
  // the watchdog, and one this agent did not make primary under its current lease is stopped.
  if (view) {
    std::lock_guard lock(mu_);
    claiming_ = view->leader && view->leader->name == config_->name;
  }
  if (obs.status && !obs.status->in_recovery) {
    // failsafe_mode: the lease this agent made PostgreSQL primary under expired in the DCS while
    // every member vouched for it; it stays writable on their word until it holds the lock
    // again (acquire_leader under the new lease) or their word runs out (the watchdog).
    auto ls = lease_.state();
    bool vouched = primary_lease_ != 0 && lease_.servingPrimary() && ls.failsafe_until &&
                   clock_.now() < *ls.failsafe_until;
    if (!vouched && (primary_lease_ == 0 || primary_lease_ != ls.lease)) {
      fenceNow(
          "PostgreSQL is writable but this agent did not make it primary under its current "
          "lease");
      obs = co_await observe();
    } else {
      lease_.setServingPrimary(true);
    }
  }
  if (!view) {
    // Without the DCS nothing may change; the watchdog fences a primary whose lease lapses.
    std::lock_guard lock(mu_);
    last_obs_ = obs;
    last_loop_epoch_ = wallClockSeconds();
    co_return;
  }
  if (obs.running && !obs.status) {
    if (!unresponsive_since_) {
      unresponsive_since_ = clock_.now();
    }
  } else {
    unresponsive_since_.reset();
  }
  LocalState local = localState(obs);
  // A promise made by this agent's previous run (POST /failsafe answered, then the agent
  // restarted) is not remembered: while a failsafe key exists, a freshly started agent keeps it
  // for ttl from its start, which covers every promise made before.
  if (view->failsafe && !local.failsafe_holdoff) {
    if (auto fresh = startupHoldoff())
      local.failsafe_holdoff = fresh;
  }
  if (view->leader && view->leader->name == config_->name && !obs.running) {
    if (!primary_down_since_)
      primary_down_since_ = clock_.now();
  } else {
    primary_down_since_.reset();
  }
  local.primary_down_since = primary_down_since_;
  lease_.setPaused(view->paused());
  co_await checkDivergence(*view, obs, local);

  std::vector<PeerProbe> peers;
  // A member named as a switchover's candidate takes the lock without comparing (the leader
  // checked it before handing over): probing the others would only lengthen the pause.
  // (A failover's candidate still probes: under quorum synchronous replication it must see
  // enough synchronous standbys.)
  bool named_candidate = view->failover && view->failover->candidate == config_->name &&
                         !view->failover->leader.empty();
  if (!view->leader && view->initialize && local.pg_running && !named_candidate) {
    std::vector<MemberRecord> others;
    for (const auto& [name, m] : view->members) {
      if (name != config_->name && !m.api_url.empty())
        others.push_back(m);
    }
    peers = co_await prober_.probe(std::move(others), std::chrono::milliseconds(500));
  }
  DecisionInput in{.view = *view,
                   .local = local,
                   .peers = peers,
                   .now = clock_.now(),
                   .now_epoch = wallClockSeconds(),
                   .ttl = config_->ha.ttl,
                   .fence_margin = config_->ha.fence_margin,
                   .maximum_lag_on_failover = config_->ha.maximum_lag_on_failover,
                   .primary_start_timeout = config_->ha.primary_start_timeout};
  if (auto it = view->config.find("maximum_lag_on_failover");
      it != view->config.end() && it->is_number_unsigned()) {
    in.maximum_lag_on_failover = it->get<std::uint64_t>();
  }
  Decision d = decide(in);
  if (d.reason != last_reason_) {
    if (d.action == Action::none) {
      spdlog::info("{}", d.reason);
    } else {
      spdlog::info("{} (action: {})", d.reason, toString(d.action));
    }
    last_reason_ = d.reason;
  }
  if (view->leader && view->leader->name != config_->name) {
    last_seen_leader_ = view->leader->name;
  }
  {
    std::lock_guard lock(mu_);
    view_ = *view;
    last_obs_ = obs;
    last_decision_ = d;
  }
  if (view_observer_) {
    observed_revision_ = std::max(observed_revision_, view->revision);
    view_observer_(*view);
    proxy_paused_at_ = view->failover ? view->failover->paused_at : 0;
  }
  {
    // A follower's action can take long (a rewind, a clone, a start that replays WAL):
    // meanwhile the proxy's routes keep following the DCS, so its clients reach a new leader
    // at once. (Actions that make or keep this member leader update the routes themselves.)
    auto active = std::make_shared<bool>(true);
    struct EndsWithScope {
      std::shared_ptr<bool> flag;
      ~EndsWithScope() { *flag = false; }
    } ends{active};
    // The last look at the failsafe promise before the DCS write that takes the lock (no
    // suspension in between, see claiming_): a POST /failsafe that came in while this cycle
    // probed the peers must still hold this member back.
    if (d.action == Action::acquire_leader || d.action == Action::bootstrap) {
      std::lock_guard lock(mu_);
      auto promise = failsafe_holdoff_;
      if (!promise && view->failsafe)
        promise = startupHoldoff();
      if (promise && clock_.now() < promise->until &&
          !(view->failover && !promise->leader.empty() && !view->failover->final_lsn.empty() &&
            view->failover->leader == promise->leader)) {
        spdlog::warn("not taking the leader lock: {} (failsafe_mode)",
                     promise->leader.empty()
                         ? std::string("this agent started less than ttl ago and may have "
                                       "confirmed a primary before")
                         : promise->leader +
                               " asked this member to confirm it as primary a "
                               "moment ago");
        co_return;
      }
      claiming_ = true;
    }
    bool follower_action = d.action == Action::start_standby || d.action == Action::follow ||
                           d.action == Action::rejoin || d.action == Action::rewind ||
                           d.action == Action::demote || d.action == Action::clone;
    if (view_observer_ && follower_action) {
      auto ex = co_await asio::this_coro::executor;
      asio::co_spawn(ex, followRoutes(active, *view), asio::detached);
    }
    co_await execute(d, *view, local);
  }

  // Re-observe after an action that changed PostgreSQL, so what we publish is current.
  if (d.action != Action::none) {
    obs = co_await observe();
  }
  // The watchdog guards whatever is writable now, lock or not. A postmaster that runs but did
  // not answer is whatever it was before: a primary stays guarded, and stays this agent's
  // primary (else it would be fenced as a stranger the moment it answers again).
  bool writable = obs.status && !obs.status->in_recovery;
  if (!obs.running || obs.status) {
    lease_.setServingPrimary(writable);
    if (!writable)
      primary_lease_ = 0;
  }
  if (obs.running) {
    std::lock_guard lock(mu_);
    fenced_ = false;
  }
  // Slots first: a leader is published as running only once the slots of the members it
  // knows exist, and members clone only from a running leader.
  bool now_leader =
      holdsLeaderLock(in) || d.action == Action::acquire_leader || d.action == Action::bootstrap;
  if (writable && now_leader) {
    co_await leaderHousekeeping(*view, obs);
  }
  co_await publish(obs);
  co_await applyDynamicConfig(*view);
  std::lock_guard lock(mu_);
  last_obs_ = obs;
  last_loop_epoch_ = wallClockSeconds();
}

asio::awaitable<void> HaLoop::checkDivergence(const ClusterView& view, const LocalObservation& obs,
                                              LocalState& local) {
  // How long a standby behind the leader's timeline may go without streaming before its
  // position is compared with the leader's history: following a new leader takes a moment.
  constexpr auto kGrace = std::chrono::seconds(3);
  const MemberRecord* lm = view.leader ? view.member(view.leader->name) : nullptr;
  bool suspect = lm && view.leader->name != config_->name && obs.status &&
                 obs.status->in_recovery && upstream_ == view.leader->name && local.timeline > 0 &&
                 lm->timeline > local.timeline && obs.status->wal_receiver_state != "streaming";
  if (!suspect) {
    not_streaming_since_.reset();
    co_return;
  }
  auto now = clock_.now();
  if (!not_streaming_since_)
    not_streaming_since_ = now;
  if (now - *not_streaming_since_ < kGrace)
    co_return;
  if (!leader_history_ || leader_history_->leader != lm->name ||
      leader_history_->timeline != lm->timeline) {
    pg::PgEndpoint source{lm->host, lm->port};
    int timeline = lm->timeline;
    auto read_history = [this, source, timeline] { return pg_.timelineHistory(source, timeline); };
    auto hist = co_await worker_.run(read_history);
    if (!hist) {
      spdlog::debug("cannot read the timeline history of leader {}: {}", lm->name, hist.message());
      co_return;
    }
    leader_history_ = LeaderHistory{lm->name, lm->timeline, std::move(*hist)};
  }
  for (const auto& [tl, switch_lsn] : leader_history_->forks) {
    if (tl == local.timeline) {
      local.leader_fork_lsn = switch_lsn;
      break;
    }
  }
}

MemberRecord HaLoop::memberRecord(const LocalObservation& obs, bool fenced) const {
  MemberRecord m;
  m.name = config_->name;
  m.host = config_->postgresql.connect_address.host;
  m.port = config_->postgresql.connect_address.port;
  m.api_url = "http://" + config_->restapi.connect_address.str();
  m.nofailover = config_->tags.nofailover;
  m.failover_priority = config_->tags.failover_priority;
  m.noloadbalance = config_->tags.noloadbalance;
  m.nosync = config_->tags.nosync;
  m.custom_tags = config_->tags.custom;
  m.version = KEEL_VERSION;
  if (config_->proxy.enabled) {
    m.proxy = config_->proxy.connect_address.str();
    m.proxy_paused_at = proxy_paused_at_.load();
  }
  if (!obs.data_initialized) {
    m.role = "uninitialized";
    m.state = activity_.empty() ? "stopped" : activity_;
    return m;
  }
  if (obs.status || obs.last_status) {
    const auto& s = obs.status ? *obs.status : *obs.last_status;
    m.role = s.in_recovery ? "replica" : "primary";
    m.wal_position = s.wal_position();
    m.timeline = s.timeline;
    m.system_identifier = s.system_identifier;
    m.pending_restart = s.pending_restart;
    m.replication_state = s.in_recovery ? s.wal_receiver_state : "";
    m.state = s.in_recovery && s.wal_receiver_state == "streaming" ? "streaming" : "running";
    m.upstream = s.in_recovery ? upstream_ : "";
    if (s.in_recovery) {
      m.replay_position = s.replay_lsn;
      m.replay_delay_ms = s.replay_delay_ms;
    }
  } else {
    m.role = "replica";
    if (obs.control) {
      m.wal_position = obs.control->checkpoint_location;
      m.timeline = obs.control->timeline;
      m.system_identifier = obs.control->system_identifier;
      if (obs.control->cluster_state == "in production" ||
          obs.control->cluster_state == "shut down") {
        m.role = "primary";
      }
    }
    m.state = obs.running ? "starting" : (fenced ? "fenced" : "stopped");
  }
  if (!activity_.empty())
    m.state = activity_;
  return m;
}

asio::awaitable<void> HaLoop::publish(LocalObservation obs) {
  auto ls = lease_.state();
  if (ls.lease == 0)
    co_return;
  bool fenced;
  {
    std::lock_guard lock(mu_);
    fenced = fenced_;
  }
  std::string value = memberRecord(obs, fenced).toJson().dump();
  std::string stamp = std::to_string(ls.lease) + value;
  if (stamp == published_member_)
    co_return;
  auto r = co_await dcs_.put(key(keys::kMembers) + config_->name, value, ls.lease);
  if (r) {
    published_member_ = stamp;
  } else {
    spdlog::warn("cannot publish member state: {}", r.message());
  }
}

asio::awaitable<void> HaLoop::leaderHousekeeping(const ClusterView& view,
                                                 const LocalObservation& obs) {
  if (obs.status) {
    std::string value = json{
        {"optime", obs.status->write_lsn.str()},
        {"timeline", obs.status->timeline},
        {"leader",
         config_->name}}.dump();
    if (value != published_status_) {
      auto r = co_await dcs_.put(key(keys::kStatus), value);
      if (r)
        published_status_ = value;
    }
  }
  if (pending_history_) {
    co_await appendHistory(*pending_history_);
  }
  co_await manageSync(view);
  co_await manageFailsafeKey(view);
  // One physical replication slot per other member. Slots of members that vanished are kept
  // for a grace period (they may be restarting) and then dropped so they do not hold WAL.
  std::set<std::string> wanted;
  for (const auto& [name, m] : view.members) {
    if (name != config_->name)
      wanted.insert(pg::slotNameFor(name));
  }
  auto now = clock_.now();
  auto grace = std::chrono::minutes(30);
  auto to_drop = std::make_shared<std::vector<std::string>>();
  auto list_slots = [this] { return pg_.slots(); };
  auto existing = co_await worker_.run(list_slots);
  if (!existing) {
    spdlog::warn("cannot list replication slots: {}", existing.message());
    co_return;
  }
  std::set<std::string> have;
  for (const auto& s : *existing) {
    have.insert(s.name);
    if (wanted.count(s.name)) {
      slot_grace_.erase(s.name);
      continue;
    }
    auto [it, inserted] = slot_grace_.emplace(s.name, now);
    if (!s.active && now - it->second > grace)
      to_drop->push_back(s.name);
  }
  std::vector<std::string> to_create;
  for (const auto& w : wanted) {
    if (!have.count(w))
      to_create.push_back(w);
  }
  // The former leader's slot (see acquireLeader): made once, then kept like the slot of any
  // member that left, for the grace period from now unless the member comes back.
  if (!former_leader_.empty()) {
    std::string slot = pg::slotNameFor(former_leader_);
    if (!wanted.count(slot) && !have.count(slot)) {
      to_create.push_back(slot);
      slot_grace_.emplace(slot, now);
    }
    former_leader_.clear();
  }
  if (to_create.empty() && to_drop->empty())
    co_return;
  auto change_slots = [this, to_create, to_drop] {
    for (const auto& s : to_create) {
      auto r = pg_.createSlot(s);
      if (!r) {
        spdlog::warn("cannot create replication slot {}: {}", s, r.message());
      }
    }
    for (const auto& s : *to_drop) {
      auto r = pg_.dropSlot(s);
      if (r)
        spdlog::info("dropped replication slot {} of a departed member", s);
    }
    return 0;
  };
  co_await worker_.run(change_slots);
  for (const auto& s : *to_drop)
    slot_grace_.erase(s);
}

asio::awaitable<void> HaLoop::applyDynamicConfig(const ClusterView& view) {
  json wanted = json::object();
  if (auto pgc = view.config.find("postgresql"); pgc != view.config.end() && pgc->is_object()) {
    if (auto p = pgc->find("parameters"); p != pgc->end() && p->is_object())
      wanted = *p;
  }
  if (wanted == applied_parameters_)
    co_return;
  {
    std::lock_guard lock(mu_);
    if (!last_obs_.status && !(last_obs_.running))
      co_return;  // applied once running
  }
  std::map<std::string, std::optional<std::string>> changes;
  json before = applied_parameters_.is_object() ? applied_parameters_ : json::object();
  for (const auto& [k, v] : wanted.items()) {
    std::string text = v.is_string()    ? v.get<std::string>()
                       : v.is_boolean() ? (v.get<bool>() ? "on" : "off")
                                        : v.dump();
    if (!before.contains(k) || before[k] != v)
      changes[k] = text;
  }
  for (const auto& [k, v] : before.items()) {
    if (!wanted.contains(k))
      changes[k] = std::nullopt;
  }
  auto alter_system = [this, changes] { return pg_.alterSystem(changes); };
  if (changes.empty()) {
    applied_parameters_ = wanted;
    co_return;
  }
  auto r = co_await worker_.run(alter_system);
  if (r) {
    spdlog::info("applied {} cluster-wide PostgreSQL parameter change(s)", changes.size());
    applied_parameters_ = wanted;
  } else {
    spdlog::warn("cannot apply cluster-wide PostgreSQL parameters: {}", r.message());
  }
}

std::optional<ClusterView> HaLoop::lastView() const {
  std::lock_guard lock(mu_);
  return view_;
}

std::string HaLoop::lastDecisionReason() const {
  std::lock_guard lock(mu_);
  return last_decision_.reason;
}

std::optional<pg::PgEndpoint> HaLoop::endpointOf(const std::string& member) const {
  std::lock_guard lock(mu_);
  if (!view_)
    return std::nullopt;
  const MemberRecord* m = view_->member(member);
  if (!m || m->host.empty() || m->port == 0)
    return std::nullopt;
  return pg::PgEndpoint{m->host, m->port};
}

asio::awaitable<void> HaLoop::shutdown() {
  stop();
  spdlog::info("shutting down: stopping PostgreSQL and releasing the lease");
  lease_.setServingPrimary(false);
  auto stop_postgres = [this] {
    if (pg_.running()) {
      auto r = pg_.stop(pg::Postgres::StopMode::fast);
      if (!r)
        spdlog::warn("PostgreSQL did not stop cleanly: {}", r.message());
    }
    return 0;
  };
  co_await worker_.run(stop_postgres);
  co_await dcs_.del(key(keys::kMembers) + config_->name);
  co_await lease_.revoke();
}

}  // namespace keel::ha
