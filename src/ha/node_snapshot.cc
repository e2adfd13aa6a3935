// HaLoop::snapshot: what the REST API serves, built from the loop's last cycle.
#include "ha/ha_loop.h"

namespace keel::ha {

namespace {

// A replica named by the sync key: "sync_standby" when each voter holds every commit,
// "quorum_standby" when a quorum of them does; "" otherwise.
std::string syncRole(const std::optional<SyncState>& sync, const std::string& name) {
  if (!sync || sync->quorum == 0 || !sync->isVoter(name))
    return "";
  return sync->quorum == static_cast<int>(sync->voters.size()) ? "sync_standby" : "quorum_standby";
}

api::MemberView memberView(const MemberRecord& m, const std::optional<WalPosition>& leader_pos,
                           bool is_leader, const std::string& sync_role) {
  api::MemberView v;
  v.name = m.name;
  v.role = is_leader ? "leader" : (m.role == "uninitialized" ? "uninitialized" : "replica");
  if (v.role == "replica" && !sync_role.empty())
    v.role = sync_role;
  v.state = m.state;
  v.host = m.host;
  v.port = m.port;
  v.api_url = m.api_url;
  v.timeline = m.timeline;
  v.wal_position = m.wal_position.str();
  v.replication_state = m.replication_state;
  v.pending_restart = m.pending_restart;
  if (!is_leader && leader_pos && m.role == "replica") {
    v.lag_bytes = *leader_pos > m.wal_position ? leader_pos->value - m.wal_position.value : 0;
  }
  v.tags = nlohmann::json::object();
  for (const auto& [k, val] : m.custom_tags)
    v.tags[k] = val;
  if (m.nofailover)
    v.tags["nofailover"] = true;
  if (m.noloadbalance)
    v.tags["noloadbalance"] = true;
  if (m.nosync)
    v.tags["nosync"] = true;
  if (m.failover_priority != 1)
    v.tags["failover_priority"] = m.failover_priority;
  return v;
}

}  // namespace

api::NodeSnapshot HaLoop::snapshot() const {
  std::lock_guard lock(mu_);
  api::NodeSnapshot s;
  const Config& c = *config_;
  s.scope = c.scope;
  s.version = KEEL_VERSION;
  s.nofailover = c.tags.nofailover;
  s.noloadbalance = c.tags.noloadbalance;
  s.last_loop_epoch = last_loop_epoch_;
  s.loop_deadline_seconds =
      std::chrono::duration<double>(config_->ha.loop_wait + config_->ha.ttl * 2).count();
  s.dcs_error = dcs_error_;
  s.postgres_running = last_obs_.running && last_obs_.status.has_value();
  s.in_recovery = last_obs_.status ? last_obs_.status->in_recovery : true;
  s.postmaster_start_time = last_obs_.status ? last_obs_.status->postmaster_start_epoch : 0;

  MemberRecord self = memberRecord(last_obs_, fenced_);
  std::optional<WalPosition> leader_pos;
  if (view_) {
    s.paused = view_->paused();
    s.dynamic_config = view_->config;
    s.failsafe_mode = failsafeModeEnabled(*view_, c.ha.failsafe_mode);
    if (view_->failsafe) {
      nlohmann::json doc = nlohmann::json::object();
      for (const auto& [name, url] : *view_->failsafe)
        doc[name] = url;
      s.failsafe = std::move(doc);
    }
    if (view_->leader) {
      s.leader = view_->leader->name;
      if (const MemberRecord* lm = view_->leaderMember())
        leader_pos = lm->wal_position;
    }
    if (view_->failover)
      s.scheduled_switchover = view_->failover->toJson();
    for (const auto& h : view_->history) {
      s.history.push_back(api::HistoryEntry{.timeline = h.timeline,
                                            .lsn = h.lsn.str(),
                                            .reason = h.reason,
                                            .time = h.time,
                                            .old_leader = h.old_leader,
                                            .new_leader = h.new_leader,
                                            .kind = h.kind,
                                            .replication = h.replication,
                                            .possible_loss_bytes = h.possible_loss_bytes});
    }
    for (const auto& [name, m] : view_->members) {
      bool is_leader = s.leader && *s.leader == name;
      s.members.push_back(memberView(name == c.name ? self : m, leader_pos, is_leader,
                                     syncRole(view_->sync, name)));
    }
  }
  {
    auto now = clock_.now();
    auto fs = lease_.state().failsafe_until;
    s.failsafe_mode_is_active = (fs && now < *fs && lease_.servingPrimary()) ||
                                (failsafe_holdoff_ && now < failsafe_holdoff_->until);
  }
  s.is_leader = s.leader && *s.leader == c.name && lease_.servingPrimary();
  if (!s.is_leader && s.leader && *s.leader == c.name) {
    // Holds the key but not (yet) serving: report as leader only while it runs a primary.
    s.is_leader = s.postgres_running && !s.in_recovery;
  }
  s.writable = s.is_leader && s.postgres_running && !s.in_recovery;
  std::string self_sync = view_ ? syncRole(view_->sync, c.name) : "";
  s.self = memberView(self, leader_pos, s.is_leader, self_sync);
  s.sync_standby = !s.is_leader && self_sync == "sync_standby";
  s.quorum_standby = !s.is_leader && self_sync == "quorum_standby";
  if (last_obs_.status && last_obs_.status->in_recovery) {
    s.self.received_position = last_obs_.status->receive_lsn.str();
    s.self.replayed_position = last_obs_.status->replay_lsn.str();
  }
  return s;
}

}  // namespace keel::ha
