#include "ha/cluster_view.h"

#include <algorithm>

namespace keel::ha {
namespace {

using json = nlohmann::json;

template <typename T>
void readField(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return;
  }
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    // Keep the default: a field of the wrong type from another version is not fatal.
  }
}

WalPosition readWal(const json& j, const char* key) {
  std::string text;
  readField(j, key, text);
  auto p = WalPosition::parse(text);
  return p ? *p : WalPosition{};
}

}  // namespace

json MemberRecord::toJson() const {
  json tags = json::object();
  for (const auto& [k, v] : custom_tags)
    tags[k] = v;
  if (nofailover)
    tags["nofailover"] = true;
  if (noloadbalance)
    tags["noloadbalance"] = true;
  if (nosync)
    tags["nosync"] = true;
  tags["failover_priority"] = failover_priority;
  json j{{"role", role},
         {"state", state},
         {"host", host},
         {"port", port},
         {"api_url", api_url},
         {"wal_position", wal_position.str()},
         {"timeline", timeline},
         {"replication_state", replication_state},
         {"upstream", upstream},
         {"pending_restart", pending_restart},
         {"system_identifier", std::to_string(system_identifier)},
         {"tags", tags},
         {"version", version}};
  if (replay_delay_ms)
    j["replay_delay_ms"] = *replay_delay_ms;
  if (replay_position.value != 0)
    j["replay_position"] = replay_position.str();
  if (!proxy.empty())
    j["proxy"] = proxy;
  if (proxy_paused_at > 0)
    j["proxy_paused_at"] = proxy_paused_at;
  return j;
}

std::optional<MemberRecord> MemberRecord::fromJson(const std::string& name, const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  MemberRecord m;
  m.name = name;
  readField(j, "role", m.role);
  readField(j, "state", m.state);
  readField(j, "host", m.host);
  readField(j, "port", m.port);
  readField(j, "api_url", m.api_url);
  m.wal_position = readWal(j, "wal_position");
  readField(j, "timeline", m.timeline);
  readField(j, "replication_state", m.replication_state);
  readField(j, "upstream", m.upstream);
  readField(j, "pending_restart", m.pending_restart);
  std::string sysid;
  readField(j, "system_identifier", sysid);
  try {
    m.system_identifier = sysid.empty() ? 0 : std::stoull(sysid);
  } catch (const std::exception&) {
    m.system_identifier = 0;
  }
  readField(j, "version", m.version);
  if (auto d = j.find("replay_delay_ms"); d != j.end() && d->is_number_integer()) {
    m.replay_delay_ms = d->get<std::int64_t>();
  }
  readField(j, "proxy", m.proxy);
  readField(j, "proxy_paused_at", m.proxy_paused_at);
  if (j.contains("replay_position"))
    m.replay_position = readWal(j, "replay_position");
  if (auto t = j.find("tags"); t != j.end() && t->is_object()) {
    for (const auto& [k, v] : t->items()) {
      if (k == "nofailover") {
        m.nofailover = v.is_boolean() ? v.get<bool>() : v == "true";
      } else if (k == "noloadbalance") {
        m.noloadbalance = v.is_boolean() ? v.get<bool>() : v == "true";
      } else if (k == "nosync") {
        m.nosync = v.is_boolean() ? v.get<bool>() : v == "true";
      } else if (k == "failover_priority") {
        if (v.is_number_integer())
          m.failover_priority = v.get<int>();
      } else {
        m.custom_tags[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
    }
  }
  return m;
}

json FailoverRequest::toJson() const {
  json j{{"requested_at", requested_at}};
  if (!leader.empty())
    j["leader"] = leader;
  if (!candidate.empty())
    j["candidate"] = candidate;
  if (scheduled_at > 0)
    j["scheduled_at"] = scheduled_at;
  if (paused_at > 0)
    j["paused_at"] = paused_at;
  if (!final_lsn.empty())
    j["final_lsn"] = final_lsn;
  if (!reason.empty())
    j["reason"] = reason;
  return j;
}

std::optional<FailoverRequest> FailoverRequest::fromJson(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  FailoverRequest f;
  readField(j, "leader", f.leader);
  readField(j, "candidate", f.candidate);
  readField(j, "scheduled_at", f.scheduled_at);
  readField(j, "requested_at", f.requested_at);
  readField(j, "paused_at", f.paused_at);
  readField(j, "final_lsn", f.final_lsn);
  readField(j, "reason", f.reason);
  return f;
}

json HistoryRecord::toJson() const {
  json j{{"timeline", timeline},     {"lsn", lsn.str()},         {"reason", reason}, {"time", time},
         {"old_leader", old_leader}, {"new_leader", new_leader}, {"kind", kind}};
  if (pause_ms > 0)
    j["pause_ms"] = pause_ms;
  if (possible_loss_bytes)
    j["possible_loss_bytes"] = *possible_loss_bytes;
  if (!replication.empty())
    j["replication"] = replication;
  return j;
}

std::optional<HistoryRecord> HistoryRecord::fromJson(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  HistoryRecord h;
  readField(j, "timeline", h.timeline);
  h.lsn = readWal(j, "lsn");
  readField(j, "reason", h.reason);
  readField(j, "time", h.time);
  readField(j, "old_leader", h.old_leader);
  readField(j, "new_leader", h.new_leader);
  readField(j, "kind", h.kind);
  readField(j, "pause_ms", h.pause_ms);
  if (auto b = j.find("possible_loss_bytes"); b != j.end() && b->is_number_unsigned())
    h.possible_loss_bytes = b->get<std::uint64_t>();
  readField(j, "replication", h.replication);
  return h;
}

bool SyncState::isVoter(const std::string& name) const {
  return std::find(voters.begin(), voters.end(), name) != voters.end();
}

json SyncState::toJson() const {
  std::string joined;
  for (const auto& v : voters)
    joined += (joined.empty() ? "" : ",") + v;
  json j{{"leader", leader}, {"quorum", quorum}};
  j["sync_standby"] = voters.empty() ? json(nullptr) : json(joined);
  return j;
}

std::optional<SyncState> SyncState::fromJson(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  SyncState s;
  auto leader = j.find("leader");
  if (leader == j.end() || !leader->is_string() || leader->get<std::string>().empty())
    return std::nullopt;
  s.leader = leader->get<std::string>();
  if (auto sb = j.find("sync_standby"); sb != j.end() && !sb->is_null()) {
    if (!sb->is_string())
      return std::nullopt;
    std::string text = sb->get<std::string>();
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t comma = text.find(',', start);
      if (comma == std::string::npos)
        comma = text.size();
      if (comma > start)
        s.voters.push_back(text.substr(start, comma - start));
      start = comma + 1;
    }
  }
  std::sort(s.voters.begin(), s.voters.end());
  if (auto q = j.find("quorum"); q != j.end()) {
    if (!q->is_number_integer())
      return std::nullopt;
    s.quorum = q->get<int>();
  } else {
    // Patroni's key (no quorum field) lists standbys that each hold every commit.
    s.quorum = static_cast<int>(s.voters.size());
  }
  if (s.quorum < 0 || s.quorum > static_cast<int>(s.voters.size()))
    return std::nullopt;
  return s;
}

bool ClusterView::paused() const {
  auto it = config.find("pause");
  return it != config.end() && it->is_boolean() && it->get<bool>();
}

const MemberRecord* ClusterView::member(const std::string& name) const {
  auto it = members.find(name);
  return it == members.end() ? nullptr : &it->second;
}

const MemberRecord* ClusterView::leaderMember() const {
  return leader ? member(leader->name) : nullptr;
}

ClusterView decodeClusterView(const std::string& prefix, const std::vector<RawKey>& kvs,
                              std::int64_t revision, std::vector<std::string>* problems) {
  ClusterView v;
  v.revision = revision;
  auto problem = [&](const std::string& key, const std::string& what) {
    if (problems)
      problems->push_back(key + ": " + what);
  };
  auto parse = [&](const RawKey& kv) -> std::optional<json> {
    auto j = json::parse(kv.value, nullptr, false);
    if (j.is_discarded()) {
      problem(kv.key, "not valid JSON; ignored");
      return std::nullopt;
    }
    return j;
  };
  const std::string members_prefix = prefix + keys::kMembers;
  for (const auto& kv : kvs) {
    if (kv.key.rfind(prefix, 0) != 0) {
      continue;
    }
    std::string rel = kv.key.substr(prefix.size());
    if (rel == keys::kInitialize) {
      v.initialize = kv.value;
    } else if (rel == keys::kLeader) {
      v.leader = LeaderRecord{kv.value, kv.lease, kv.mod_revision};
    } else if (rel == keys::kConfig) {
      if (auto j = parse(kv); j && j->is_object())
        v.config = *j;
    } else if (rel == keys::kFailover) {
      if (auto j = parse(kv)) {
        if (auto f = FailoverRequest::fromJson(*j)) {
          f->mod_revision = kv.mod_revision;
          v.failover = *f;
        }
      }
    } else if (rel == keys::kStatus) {
      if (auto j = parse(kv); j && j->is_object()) {
        std::string pos;
        readField(*j, "optime", pos);
        if (auto p = WalPosition::parse(pos))
          v.last_leader_position = *p;
      }
    } else if (rel == keys::kSync) {
      std::optional<SyncState> s;
      if (auto j = parse(kv)) {
        s = SyncState::fromJson(*j);
        if (!s) {
          problem(kv.key,
                  "not a sync record (leader, sync_standby, quorum); no member may be "
                  "promoted by it until the leader rewrites it");
        }
      }
      if (s) {
        s->mod_revision = kv.mod_revision;
        v.sync = *s;
      } else {
        v.sync_unreadable = true;
      }
    } else if (rel == keys::kFailsafe) {
      auto j = parse(kv);
      bool ok = j && j->is_object();
      std::map<std::string, std::string> listed;
      if (ok) {
        for (const auto& [name, url] : j->items()) {
          if (!url.is_string() || name.empty()) {
            ok = false;
            break;
          }
          listed[name] = url.get<std::string>();
        }
      }
      if (ok) {
        v.failsafe = std::move(listed);
        v.failsafe_mod_revision = kv.mod_revision;
      } else if (j) {
        problem(kv.key,
                "not a failsafe record (an object of member name: REST API URL); ignored until "
                "the leader rewrites it");
      }
    } else if (rel == keys::kHistory) {
      v.history_mod_revision = kv.mod_revision;
      if (auto j = parse(kv); j && j->is_array()) {
        for (const auto& e : *j) {
          if (auto h = HistoryRecord::fromJson(e))
            v.history.push_back(*h);
        }
      }
    } else if (kv.key.rfind(members_prefix, 0) == 0) {
      std::string name = kv.key.substr(members_prefix.size());
      if (auto j = parse(kv)) {
        if (auto m = MemberRecord::fromJson(name, *j)) {
          v.members[name] = *m;
        } else {
          problem(kv.key, "member record is not a JSON object; ignored");
        }
      }
    }
  }
  return v;
}

bool failsafeModeEnabled(const ClusterView& view, bool file_default) {
  if (auto it = view.config.find("failsafe_mode"); it != view.config.end() && it->is_boolean())
    return it->get<bool>();
  return file_default;
}

std::map<std::string, std::string> failsafeMembers(const ClusterView& view) {
  std::map<std::string, std::string> out;
  for (const auto& [name, m] : view.members)
    out[name] = m.api_url;
  return out;
}

}  // namespace keel::ha
