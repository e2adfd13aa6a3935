// The HA loop's synchronous replication: the leader keeps synchronous_standby_names and the
// sync key in step (sync_replication.h has the rules and the argument).

#include <spdlog/spdlog.h>

#include "ha/ha_loop.h"

namespace keel::ha {

namespace asio = boost::asio;
using dcs::Compare;
using dcs::Operation;

namespace {

// Every walsender applies a new synchronous_standby_names on its next loop after the reload
// (milliseconds); a position read this long after the change is past every commit that was
// acknowledged under the old value.
constexpr auto kSettle = std::chrono::milliseconds(1000);
// After a promotion, or a restart of the primary, replicas with a member record count as
// synchronous candidates before they stream from it (they are busy following it, or
// reconnecting); past this, only streaming ones do (and without strict mode, none streaming
// means asynchronous).
constexpr auto kPromotionGrace = std::chrono::seconds(10);
// A standby that flushed nothing for this long while behind the primary is not waited for
// (see SyncTargetInput::stalled); PostgreSQL's wal_sender_timeout (60 s) is far longer.
constexpr auto kStalled = std::chrono::seconds(3);

}  // namespace

SyncSettings HaLoop::syncSettings(const ClusterView& view) const {
  SyncSettings s;
  s.mode = parseSyncMode(config_->ha.synchronous_mode).value_or(SyncMode::off);
  s.strict = config_->ha.synchronous_mode_strict;
  s.node_count = config_->ha.synchronous_node_count;
  const auto& c = view.config;
  if (auto it = c.find("synchronous_mode"); it != c.end()) {
    if (it->is_boolean()) {
      s.mode = it->get<bool>() ? SyncMode::on : SyncMode::off;
    } else if (it->is_string()) {
      if (auto m = parseSyncMode(it->get<std::string>()))
        s.mode = *m;
    }
  }
  if (auto it = c.find("synchronous_mode_strict"); it != c.end() && it->is_boolean())
    s.strict = it->get<bool>();
  if (auto it = c.find("synchronous_node_count"); it != c.end() && it->is_number_integer()) {
    auto n = it->get<long long>();
    if (n >= 1 && n <= 1000)
      s.node_count = static_cast<int>(n);
  }
  return s;
}

std::optional<SyncState> HaLoop::currentSyncKey(const ClusterView& view) const {
  if (sync_cache_.revision > view.revision)
    return sync_cache_.key;
  return view.sync;
}

asio::awaitable<bool> HaLoop::writeSyncKey(std::optional<SyncState> wanted, std::string why) {
  const std::string sync_key = key(keys::kSync);
  // The guard is the key as it is now (read fresh: the view may be a cycle old), and this
  // member still holding the leader key.
  auto cur = co_await dcs_.get(sync_key);
  if (!cur) {
    spdlog::warn("cannot read the sync key: {}", cur.message());
    co_return false;
  }
  dcs::Txn t;
  t.compare.push_back(Compare::valueIs(key(keys::kLeader), config_->name));
  t.compare.push_back(Compare::leaseIs(key(keys::kLeader), lease_.state().lease));
  if (cur->kvs.empty()) {
    if (!wanted)
      co_return true;
    t.compare.push_back(Compare::absent(sync_key));
  } else {
    t.compare.push_back(Compare::modRevisionIs(sync_key, cur->kvs.front().mod_revision));
  }
  if (wanted) {
    t.success.push_back(Operation::put(sync_key, wanted->toJson().dump()));
  } else {
    t.success.push_back(Operation::del(sync_key));
  }
  auto r = co_await dcs_.txn(t);
  if (!r) {
    // Unknown outcome: whatever the key is now, the next cycle reads it and goes on from there;
    // synchronous_standby_names changes only after a write known to have succeeded.
    spdlog::warn("cannot write the sync key: {}", r.message());
    co_return false;
  }
  if (!r->succeeded) {
    spdlog::warn(
        "sync key not written: this member no longer holds the leader key, or the "
        "key changed meanwhile; retrying next cycle");
    co_return false;
  }
  sync_cache_ = SyncKeyCache{.revision = r->revision, .key = wanted};
  if (sync_cache_.key)
    sync_cache_.key->mod_revision = r->revision;
  spdlog::info("sync key {}: {}", wanted ? "written" : "deleted", why);
  co_return true;
}

asio::awaitable<bool> HaLoop::prepareSyncForPromotion(const ClusterView& view) {
  SyncSettings s = syncSettings(view);
  std::optional<SyncState> old = view.sync_unreadable ? std::nullopt : currentSyncKey(view);
  std::optional<SyncState> inherited = keyAtPromotion(config_->name, old, s.mode, s.strict);
  if (view.sync_unreadable && !inherited)
    inherited = SyncState{.leader = config_->name, .voters = {}, .quorum = 0};
  bool same = !view.sync_unreadable && inherited.has_value() == old.has_value() &&
              (!inherited || *inherited == *old);
  if (!same) {
    // A failed write leaves the old key, which names another leader: manageSync replaces it
    // before it lets PostgreSQL acknowledge a commit (synchronous_standby_names below).
    co_await writeSyncKey(inherited, "promotion: inherited from the former leader's key");
  }
  bool sync = s.mode != SyncMode::off || inherited.has_value();
  SyncTarget waiting_for_none{.kind = SyncTarget::Kind::blocking};
  std::string names = sync ? waiting_for_none.standbyNames() : "";
  auto set = [this, names] { return pg_.setSynchronousStandbyNames(names); };
  auto r = co_await worker_.run(set);
  if (!r) {
    spdlog::error(
        "cannot set synchronous_standby_names before promoting: {}; not promoting "
        "until it can be set (a value left from an earlier run could acknowledge "
        "commits no synchronous standby holds)",
        r.message());
    co_return false;
  }
  sync_changed_at_ = clock_.now();
  standby_names_seen_ = names;
  co_return true;
}

asio::awaitable<void> HaLoop::manageSync(const ClusterView& view) {
  SyncSettings settings = syncSettings(view);
  std::optional<SyncState> key = currentSyncKey(view);
  if (settings.mode == SyncMode::off && !key && !view.sync_unreadable && standby_names_seen_ &&
      standby_names_seen_->empty()) {
    co_return;  // asynchronous and known to be: no query each cycle
  }
  auto started = clock_.now();
  if (!sync_changed_at_)
    sync_changed_at_ = started;  // set by an earlier run of this agent, maybe just now
  auto read = [this] { return pg_.syncStatus(); };
  auto status = co_await worker_.run(read);
  if (!status) {
    spdlog::warn("cannot read synchronous replication status: {}", status.message());
    co_return;
  }
  standby_names_seen_ = status->standby_names;
  if (settings.mode == SyncMode::off && !key && !view.sync_unreadable &&
      status->standby_names.empty())
    co_return;
  std::vector<ReplicationRow> rows;
  std::set<std::string> stalled;
  std::map<std::string, FlushProgress> progress;
  for (const auto& sb : status->standbys) {
    rows.push_back({sb.application_name, sb.state, sb.flush_lsn});
    FlushProgress p{sb.flush_lsn, started};
    if (auto it = standby_progress_.find(sb.application_name);
        it != standby_progress_.end() && it->second.flushed == sb.flush_lsn) {
      p.since = it->second.since;
    }
    if (sb.flush_lsn >= status->write_lsn)
      p.since = started;  // caught up: nothing to wait for
    if (started - p.since >= kStalled) {
      stalled.insert(sb.application_name);
      spdlog::debug(
          "standby {} has flushed nothing for {} ms although behind", sb.application_name,
          std::chrono::duration_cast<std::chrono::milliseconds>(started - p.since).count());
    }
    progress[sb.application_name] = p;
  }
  standby_progress_ = std::move(progress);
  // The position, when it was read after the last change of the setting settled.
  std::optional<WalPosition> settled;
  if (started - *sync_changed_at_ >= kSettle)
    settled = status->write_lsn;
  if (view.sync_unreadable)
    key = SyncState{.leader = "", .voters = {}, .quorum = 0};  // replaced first, as foreign
  for (int step_no = 0; step_no < 3; ++step_no) {
    std::optional<SyncState> mine = key && key->leader == config_->name ? key : std::nullopt;
    SyncTargetInput tin{
        .settings = settings,
        .self = config_->name,
        .view = view,
        .key = mine,
        .rows = rows,
        .promotion_grace = promoted_at_ && clock_.now() - *promoted_at_ < kPromotionGrace,
        .stalled = stalled};
    SyncTarget target = chooseSyncTarget(tin);
    SyncPlanInput pin{.self = config_->name,
                      .key = key,
                      .standby_names = status->standby_names,
                      .target = target,
                      .rows = rows,
                      .settled_position = settled};
    SyncStep step = planSync(pin);
    if (step.kind == SyncStep::Kind::none) {
      if (!step.reason.empty() && step.reason != last_sync_reason_)
        spdlog::info("synchronous replication: {}", step.reason);
      last_sync_reason_ = step.reason;
      co_return;
    }
    last_sync_reason_.clear();
    if (step.kind == SyncStep::Kind::write_key) {
      if (!co_await writeSyncKey(step.key, step.reason))
        co_return;
      key = step.key;
      continue;
    }
    auto set = [this, names = step.standby_names] { return pg_.setSynchronousStandbyNames(names); };
    auto r = co_await worker_.run(set);
    if (!r) {
      spdlog::warn("cannot set synchronous_standby_names: {}", r.message());
      co_return;
    }
    spdlog::info("synchronous replication: {}", step.reason);
    sync_changed_at_ = clock_.now();
    standby_names_seen_ = step.standby_names;
    co_return;  // the key follows once the change settled (a later cycle)
  }
}

}  // namespace keel::ha
