#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/wal_position.h"

namespace keel::ha {

// The cluster as stored in the DCS under /keel/<scope>/, decoded. Pure data: the HA loop reads
// it once per cycle and the decision core reasons about it.

// members/<name>: what each member publishes about itself every cycle, attached to its lease.
struct MemberRecord {
  std::string name;
  std::string role = "uninitialized";  // "primary", "replica", "uninitialized"
  std::string state = "stopped";       // "running", "streaming", "starting", "stopped", ...
  std::string host;                    // PostgreSQL connect address
  std::uint16_t port = 0;
  std::string api_url;  // "http://host:port"
  WalPosition wal_position;
  int timeline = 0;
  std::string replication_state;  // replicas: "streaming" when the WAL receiver streams
  std::string upstream;           // replicas: member name it follows, if known
  bool pending_restart = false;
  std::uint64_t system_identifier = 0;
  bool nofailover = false;
  int failover_priority = 1;
  bool noloadbalance = false;
  bool nosync = false;  // never chosen as a synchronous standby
  std::map<std::string, std::string> custom_tags;
  std::string version;
  // Replicas: PgStatus::replay_delay_ms, for the proxy's max_lag_time.
  std::optional<std::int64_t> replay_delay_ms;
  WalPosition replay_position;  // replicas: pg_last_wal_replay_lsn(); what reads see
  std::string proxy;  // "host:port" of this member's RW proxy port; empty when it runs none
  // The FailoverRequest::paused_at this member's proxy has applied (it lends no read-write server
  // connection for new transactions); 0: none.
  double proxy_paused_at = 0;

  bool eligibleForFailover() const { return !nofailover && failover_priority > 0; }
  nlohmann::json toJson() const;
  // Lenient: unknown fields are ignored, missing ones keep defaults (other versions of Keel
  // may publish more or less). Returns nullopt only when `j` is not an object.
  static std::optional<MemberRecord> fromJson(const std::string& name, const nlohmann::json& j);
};

// leader: the member name, attached to the holder's lease.
struct LeaderRecord {
  std::string name;
  std::int64_t lease = 0;
  std::int64_t mod_revision = 0;
};

// failover: a requested switchover (leader set) or failover (leader unset).
struct FailoverRequest {
  std::string leader;       // empty for a failover
  std::string candidate;    // empty: the healthiest eligible replica
  double scheduled_at = 0;  // epoch seconds; 0: as soon as possible
  double requested_at = 0;  // epoch seconds
  // Switchover: when the leader asked every proxy to stop lending read-write server connections
  // for new transactions (epoch seconds); 0: not yet. Set by the leader, not by the API.
  double paused_at = 0;
  // Switchover: the stopped leader's final checkpoint location the candidate must replay; empty
  // until the leader stopped. Set by the leader.
  std::string final_lsn;
  std::string reason;  // "switchover requested through the API"
  std::int64_t mod_revision = 0;

  nlohmann::json toJson() const;
  static std::optional<FailoverRequest> fromJson(const nlohmann::json& j);
};

// sync: which members may be promoted without losing an acknowledged commit, kept by the
// leader while synchronous replication is on (ha/sync_replication.h has the rules). Absent: no
// restriction (asynchronous replication). Patroni's key shape, plus "quorum".
struct SyncState {
  std::string leader;               // the primary whose commits this describes
  std::vector<std::string> voters;  // "sync_standby": sorted member names
  // Every commit `leader` acknowledged is on at least `quorum` of `voters`. 0: on none of them
  // for sure, so only `leader` itself may be promoted.
  int quorum = 0;
  std::int64_t mod_revision = 0;

  bool isVoter(const std::string& name) const;
  bool operator==(const SyncState& o) const {
    return leader == o.leader && voters == o.voters && quorum == o.quorum;
  }
  nlohmann::json toJson() const;
  // nullopt when `j` is not an object with a leader, or its fields contradict each other.
  static std::optional<SyncState> fromJson(const nlohmann::json& j);
};

// history: one element per leader change.
struct HistoryRecord {
  int timeline = 0;  // the new leader's timeline
  WalPosition lsn;   // the old timeline's last position known
  std::string reason;
  double time = 0;
  std::string old_leader;
  std::string new_leader;
  std::string kind;  // "failover", "switchover", "bootstrap"
  // Switchover: how long the proxies lent no read-write connection for new transactions, from
  // the old leader's pause to the new leader's promotion; 0: no pause.
  std::int64_t pause_ms = 0;
  // Failover: bytes of WAL the new leader may lack, by the last position the old leader
  // published (its status key) against the new leader's position at promotion; nullopt when
  // unknown or when synchronous replication vouched for the new leader (see `sync`).
  std::optional<std::uint64_t> possible_loss_bytes;
  // Failover: how the new leader was vouched for: "synchronous" (a voter of the sync key, or
  // its leader), "asynchronous" (within maximum_lag_on_failover); empty for others.
  std::string replication;

  nlohmann::json toJson() const;
  static std::optional<HistoryRecord> fromJson(const nlohmann::json& j);
};

struct ClusterView {
  std::int64_t revision = 0;
  // initialize: absent = never bootstrapped; "" = a bootstrap is in progress; else the system
  // identifier (decimal) of the cluster.
  std::optional<std::string> initialize;
  std::optional<LeaderRecord> leader;
  std::map<std::string, MemberRecord> members;
  std::optional<FailoverRequest> failover;
  std::optional<WalPosition> last_leader_position;  // status: the leader's last published LSN
  std::optional<SyncState> sync;
  // The sync key exists but cannot be decoded: nobody may assume it allows a promotion.
  bool sync_unreadable = false;
  nlohmann::json config = nlohmann::json::object();  // dynamic configuration
  // failsafe: the members (name -> REST API URL) the leader last saw while failsafe_mode was
  // on (Patroni's key). While it exists, only the members it names may take the leader lock.
  std::optional<std::map<std::string, std::string>> failsafe;
  std::int64_t failsafe_mod_revision = 0;
  std::vector<HistoryRecord> history;
  std::int64_t history_mod_revision = 0;

  bool paused() const;
  const MemberRecord* member(const std::string& name) const;
  const MemberRecord* leaderMember() const;
};

// DCS key layout under the scope prefix ("/keel/<scope>/").
namespace keys {
inline constexpr const char* kInitialize = "initialize";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kLeader = "leader";
inline constexpr const char* kMembers = "members/";
inline constexpr const char* kHistory = "history";
inline constexpr const char* kFailover = "failover";
inline constexpr const char* kStatus = "status";
inline constexpr const char* kSync = "sync";
inline constexpr const char* kFailsafe = "failsafe";
}  // namespace keys

// failsafe_mode in force: the dynamic config's, else the config file's (`file_default`).
bool failsafeModeEnabled(const ClusterView& view, bool file_default);
// What the failsafe key should hold: every member with a record (name -> api_url).
std::map<std::string, std::string> failsafeMembers(const ClusterView& view);

struct RawKey {
  std::string key;  // full key
  std::string value;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

// Decodes every key under `prefix` into a view. Undecodable values are skipped and described in
// `problems` (a member with a garbled record must not stop the others from failing over).
ClusterView decodeClusterView(const std::string& prefix, const std::vector<RawKey>& kvs,
                              std::int64_t revision, std::vector<std::string>* problems);

}  // namespace keel::ha
