#include <charconv>
#include <cstdio>

#include "api/handlers.h"
#include "common/wal_position.h"

namespace keel::api::detail {

namespace {

std::string escapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::uint64_t walBytes(const std::string& position) {
  auto parsed = WalPosition::parse(position);
  return parsed ? parsed->value : 0;
}

// Patroni prints its version as a number without periods, two digits a part: 3.0.2 -> 030002.
std::string versionNumber(const std::string& version) {
  int major = 0, minor = 0, patch = 0;
  if (std::sscanf(version.c_str(), "%d.%d.%d", &major, &minor, &patch) < 1) {
    return "0";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d", major, minor, patch);
  return buf;
}

// The shortest text that reads back as `v`.
std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

}  // namespace

std::string patroniMetrics(const NodeSnapshot& s) {
  const std::string labels =
      "{scope=\"" + escapeLabel(s.scope) + "\",name=\"" + escapeLabel(s.self.name) + "\"}";
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help,
                    const std::string& value) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
    out += std::string(name) + labels + " " + value + "\n";
  };
  auto flag = [](bool b) { return std::string(b ? "1" : "0"); };

  // The same role rules as /patroni.
  const bool running = s.postgres_running;
  const bool primary = s.is_leader && !s.in_recovery;
  const bool standby_leader = s.is_leader && s.in_recovery;
  const bool replica = !s.is_leader && running && s.in_recovery;
  std::uint64_t received = 0, replayed = 0;
  if (replica) {
    received =
        walBytes(s.self.received_position.empty() ? s.self.wal_position : s.self.received_position);
    replayed =
        walBytes(s.self.replayed_position.empty() ? s.self.wal_position : s.self.replayed_position);
  }

  metric("patroni_version", "gauge", "Patroni semver without periods.", versionNumber(s.version));
  metric("patroni_postgres_running", "gauge", "Value is 1 if Postgres is running, 0 otherwise.",
         flag(running));
  metric("patroni_postmaster_start_time", "gauge", "Epoch seconds since Postgres started.",
         running ? number(s.postmaster_start_time) : "0");
  metric("patroni_master", "gauge", "Value is 1 if this node is the leader, 0 otherwise.",
         flag(primary));
  metric("patroni_primary", "gauge", "Value is 1 if this node is the leader, 0 otherwise.",
         flag(primary));
  metric("patroni_xlog_location", "counter",
         "Current location of the Postgres transaction log, 0 if this node is not the leader.",
         std::to_string(primary && running ? walBytes(s.self.wal_position) : 0));
  metric("patroni_standby_leader", "gauge",
         "Value is 1 if this node is the standby_leader, 0 otherwise.", flag(standby_leader));
  metric("patroni_replica", "gauge", "Value is 1 if this node is a replica, 0 otherwise.",
         flag(replica));
  metric("patroni_sync_standby", "gauge",
         "Value is 1 if this node is a sync standby replica, 0 otherwise.", flag(s.sync_standby));
  metric("patroni_quorum_standby", "gauge",
         "Value is 1 if this node is a quorum standby replica, 0 otherwise.",
         flag(s.quorum_standby));
  metric("patroni_xlog_received_location", "counter",
         "Current location of the received Postgres transaction log, 0 if this node is not a "
         "replica.",
         std::to_string(received));
  metric("patroni_xlog_replayed_location", "counter",
         "Current location of the replayed Postgres transaction log, 0 if this node is not a "
         "replica.",
         std::to_string(replayed));
  metric("patroni_cluster_unlocked", "gauge", "Value is 1 if the cluster is unlocked, 0 if locked.",
         flag(!s.leader && s.dcs_error.empty()));
  metric("patroni_postgres_timeline", "counter",
         "Postgres timeline of this node (if running), 0 otherwise.",
         std::to_string(running ? s.self.timeline : 0));
  metric("patroni_pending_restart", "gauge", "Value is 1 if the node needs a restart, 0 otherwise.",
         flag(s.self.pending_restart));
  metric("patroni_is_paused", "gauge", "Value is 1 if auto failover is disabled, 0 otherwise.",
         flag(s.paused));
  metric("patroni_failsafe_mode_is_active", "gauge",
         "Value is 1 if failsafe mode is currently active, 0 otherwise.",
         flag(s.failsafe_mode_is_active));
  return out;
}

}  // namespace keel::api::detail
