#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ha/decision.h"

namespace keel::ha::testing {

// One member's view of a cycle, built by hand. Defaults describe a healthy three-member cluster
// (a, b, c) whose DCS says it was initialized with system identifier 7000; the local member is
// "b", a running replica with a freshly renewed lease. Tests change only what they are about.
inline constexpr std::uint64_t kSysid = 7000;
inline constexpr std::chrono::milliseconds kTtl{2000};
inline constexpr std::chrono::milliseconds kMargin{500};
inline const SteadyTime kNow = SteadyTime{} + std::chrono::hours(1);
inline constexpr double kEpoch = 1'700'000'000.0;
inline constexpr std::uint64_t kMiB = 1024 * 1024;

inline WalPosition wal(std::uint64_t v) {
  return WalPosition{v};
}

inline MemberRecord replicaRecord(const std::string& name, std::uint64_t wal_value,
                                  const std::string& upstream = "") {
  MemberRecord m;
  m.name = name;
  m.role = "replica";
  m.state = "streaming";
  m.replication_state = "streaming";
  m.host = "127.0.0.1";
  m.port = static_cast<std::uint16_t>(5432 + (name.empty() ? 0 : name[0] - 'a'));
  m.api_url = "http://127.0.0.1:8008";
  m.wal_position = wal(wal_value);
  m.upstream = upstream;
  m.system_identifier = kSysid;
  return m;
}

inline MemberRecord primaryRecord(const std::string& name, std::uint64_t wal_value) {
  MemberRecord m = replicaRecord(name, wal_value);
  m.role = "primary";
  m.state = "running";
  m.replication_state.clear();
  return m;
}

inline PeerProbe peer(const std::string& name, std::uint64_t wal_value, bool reachable = true) {
  PeerProbe p;
  p.name = name;
  p.reachable = reachable;
  p.pg_running = true;
  p.in_recovery = true;
  p.wal_position = wal(wal_value);
  return p;
}

struct Scenario {
  ClusterView view;
  LocalState local;
  std::vector<PeerProbe> peers;
  SteadyTime now = kNow;
  double now_epoch = kEpoch;
  std::uint64_t maximum_lag = kMiB;
  std::chrono::milliseconds grace{10000};

  Scenario() {
    view.initialize = std::to_string(kSysid);
    local.name = "b";
    local.data_initialized = true;
    local.pg_running = true;
    local.in_recovery = true;
    local.wal_position = wal(1000);
    local.timeline = 1;
    local.system_identifier = kSysid;
    local.lease = 42;
    local.last_renewal_sent = kNow - std::chrono::milliseconds(100);
  }

  DecisionInput input() const {
    return DecisionInput{.view = view,
                         .local = local,
                         .peers = peers,
                         .now = now,
                         .now_epoch = now_epoch,
                         .ttl = kTtl,
                         .fence_margin = kMargin,
                         .maximum_lag_on_failover = maximum_lag,
                         .failover_candidate_grace = grace};
  }
  Decision decide() const { return ha::decide(input()); }

  // The leader key names `name`; when it is the local member, with the local lease.
  Scenario& leaderIs(const std::string& name) {
    view.leader = LeaderRecord{name, name == local.name ? local.lease : 7, 3};
    return *this;
  }
  Scenario& localIsRunningPrimary() {
    local.pg_running = true;
    local.in_recovery = false;
    return *this;
  }
  Scenario& localIsStopped() {
    local.pg_running = false;
    return *this;
  }
  Scenario& member(MemberRecord m) {
    view.members[m.name] = std::move(m);
    return *this;
  }
  Scenario& paused() {
    view.config["pause"] = true;
    return *this;
  }
};

}  // namespace keel::ha::testing
