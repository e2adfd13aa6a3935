#include "api/handlers.h"
#include "common/clock.h"
#include "common/wal_position.h"

namespace keel::api::detail {

namespace {

// Patroni prints WAL positions as byte offsets (integers), not as "0/3000060".
std::optional<std::uint64_t> walBytes(const std::string& position) {
  if (position.empty()) {
    return std::nullopt;
  }
  auto parsed = WalPosition::parse(position);
  if (!parsed) {
    return std::nullopt;
  }
  return parsed->value;
}

// Patroni's postmaster_start_time looks like "2023-08-18 11:03:37.966+00:00".
std::string postgresTimestamp(double epoch_seconds) {
  std::string iso = isoTimestamp(epoch_seconds);
  if (auto t = iso.find('T'); t != std::string::npos) {
    iso[t] = ' ';
  }
  if (!iso.empty() && iso.back() == 'Z') {
    iso.pop_back();
    iso += "+00:00";
  }
  return iso;
}

std::string roleOf(const NodeSnapshot& s) {
  if (s.is_leader) {
    return s.in_recovery ? "standby_leader" : "primary";
  }
  if (s.self.role == "uninitialized") {
    return "uninitialized";
  }
  if (s.postgres_running && !s.in_recovery) {
    return "primary";  // a primary without the lock, e.g. while demoting or paused
  }
  return "replica";
}

bool hasTags(const nlohmann::json& tags) {
  return tags.is_object() && !tags.empty();
}

}  // namespace

nlohmann::json patroniStatus(const NodeSnapshot& s) {
  nlohmann::json out = nlohmann::json::object();
  out["state"] = s.self.state.empty() ? (s.postgres_running ? "running" : "stopped") : s.self.state;
  if (s.postgres_running && s.postmaster_start_time > 0) {
    out["postmaster_start_time"] = postgresTimestamp(s.postmaster_start_time);
  }
  std::string role = roleOf(s);
  out["role"] = role;
  if (s.postgres_running) {
    auto position = walBytes(s.self.wal_position);
    if (role == "primary") {
      if (position) {
        out["xlog"] = {{"location", *position}};
      }
    } else {
      // A backend that reports one replica position leaves the other two empty.
      auto received = walBytes(s.self.received_position);
      auto replayed = walBytes(s.self.replayed_position);
      received = received ? received : position;
      replayed = replayed ? replayed : position;
      if (received || replayed) {
        nlohmann::json xlog = nlohmann::json::object();
        if (received) {
          xlog["received_location"] = *received;
        }
        if (replayed) {
          xlog["replayed_location"] = *replayed;
        }
        out["xlog"] = std::move(xlog);
      }
    }
    if (role != "primary" && !s.self.replication_state.empty()) {
      out["replication_state"] = s.self.replication_state;
    }
  }
  if (s.self.timeline > 0) {
    out["timeline"] = s.self.timeline;
  }
  if (s.paused) {
    out["pause"] = true;
  }
  if (s.sync_standby)
    out["sync_standby"] = true;
  if (s.quorum_standby)
    out["quorum_standby"] = true;
  if (s.self.pending_restart) {
    out["pending_restart"] = true;
  }
  if (!s.leader && s.dcs_error.empty()) {
    out["cluster_unlocked"] = true;
  }
  if (hasTags(s.self.tags)) {
    out["tags"] = s.self.tags;
  }
  if (s.failsafe_mode_is_active) {
    out["failsafe_mode_is_active"] = true;
  }
  if (!s.dcs_error.empty()) {
    out["dcs_error"] = s.dcs_error;
  }
  out["patroni"] = {{"version", s.version}, {"scope", s.scope}, {"name", s.self.name}};
  return out;
}

nlohmann::json clusterStatus(const NodeSnapshot& s) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : s.members) {
    nlohmann::json j = {{"name", m.name}, {"role", m.role}, {"state", m.state},
                        {"host", m.host}, {"port", m.port}, {"api_url", m.api_url}};
    if (m.timeline > 0) {
      j["timeline"] = m.timeline;
    }
    if (m.role != "leader") {
      // Patroni prints "unknown" when a replica's position is not known.
      j["lag"] = m.lag_bytes ? nlohmann::json(*m.lag_bytes) : nlohmann::json("unknown");
    }
    if (m.pending_restart) {
      j["pending_restart"] = true;
    }
    if (hasTags(m.tags)) {
      j["tags"] = m.tags;
    }
    members.push_back(std::move(j));
  }
  nlohmann::json out = {{"members", std::move(members)}, {"scope", s.scope}};
  if (s.paused) {
    out["pause"] = true;
  }
  if (s.scheduled_switchover && s.scheduled_switchover->is_object()) {
    // The DCS `failover` key names {leader, candidate|member, scheduled_at}; Patroni shows a
    // scheduled one as {at, from, to}. An unscheduled (immediate) request is not shown.
    const auto& f = *s.scheduled_switchover;
    auto text = [&f](std::initializer_list<const char*> names) -> std::optional<std::string> {
      for (const char* n : names) {
        if (auto it = f.find(n); it != f.end() && it->is_string()) {
          return it->get<std::string>();
        }
      }
      return std::nullopt;
    };
    if (auto at = text({"scheduled_at", "at"})) {
      nlohmann::json sw = {{"at", *at}};
      if (auto from = text({"leader", "from"})) {
        sw["from"] = *from;
      }
      if (auto to = text({"candidate", "member", "to"})) {
        sw["to"] = *to;
      }
      out["scheduled_switchover"] = std::move(sw);
    }
  }
  return out;
}

nlohmann::json historyDocument(const NodeSnapshot& s) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : s.history) {
    nlohmann::json lsn = h.lsn;
    if (auto bytes = walBytes(h.lsn)) {
      lsn = *bytes;
    }
    nlohmann::json entry = {h.timeline, std::move(lsn), h.reason, isoTimestamp(h.time)};
    if (!h.new_leader.empty()) {
      entry.push_back(h.new_leader);
    }
    if (!h.replication.empty()) {
      // Patroni's history rows have at most five columns; Keel adds what a failover may have
      // lost as a sixth, an object.
      nlohmann::json extra = {{"replication", h.replication}};
      if (h.possible_loss_bytes)
        extra["possible_loss_bytes"] = *h.possible_loss_bytes;
      if (h.new_leader.empty())
        entry.push_back(nullptr);
      entry.push_back(std::move(extra));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace keel::api::detail
