#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace keel::api {

// What the REST API reads and asks of the agent. The agent (ha module) implements it; tests
// implement it with fixed data. The API module depends only on this header, not on ha.

struct MemberView {
  std::string name;
  // "leader" (primary holding the lock), "replica", "sync_standby", "quorum_standby" (replicas
  // named by the sync key), "uninitialized"
  std::string role;
  std::string state;  // "running", "streaming", "stopped", "starting", "crashed", "fenced", ...
  std::string host;   // PostgreSQL connect address
  std::uint16_t port = 0;
  std::string api_url;
  int timeline = 0;
  std::optional<std::uint64_t> lag_bytes;  // replicas: leader position minus this member's
  std::string wal_position;                // "0/3000060"
  std::string received_position;           // replicas: WAL received and flushed ("" if unknown)
  std::string replayed_position;           // replicas: WAL replayed ("" if unknown)
  std::string replication_state;           // replicas: "streaming" or empty
  bool pending_restart = false;
  nlohmann::json tags = nlohmann::json::object();
};

struct HistoryEntry {
  int timeline = 0;    // the new timeline
  std::string lsn;     // where the old timeline ended
  std::string reason;  // "failover: leader lease expired", "switchover requested by API"
  double time = 0;     // epoch seconds
  std::string old_leader;
  std::string new_leader;
  std::string kind;  // "failover" | "switchover"
  // Failover: "synchronous" or "asynchronous", and for the latter how many bytes the old
  // leader last reported beyond the new leader's position (what may have been lost).
  std::string replication;
  std::optional<std::uint64_t> possible_loss_bytes;
};

// This member as the agent last saw it, plus the cluster as last read from the DCS.
struct NodeSnapshot {
  MemberView self;
  bool postgres_running = false;
  bool is_leader = false;  // holds the leader lock
  bool writable = false;   // running primary that holds the lock
  bool in_recovery = false;
  bool paused = false;
  bool nofailover = false;
  bool noloadbalance = false;
  // Named by the leader's sync key: every acknowledged commit is on this member ("on" mode),
  // or on a quorum of members it belongs to ("quorum" mode).
  bool sync_standby = false;
  bool quorum_standby = false;
  std::string scope;
  std::string version;  // Keel's version
  double postmaster_start_time = 0;
  double last_loop_epoch = 0;         // when the HA loop last completed a cycle (liveness)
  double loop_deadline_seconds = 0;   // liveness fails when older than this
  std::optional<std::string> leader;  // leader's member name
  std::vector<MemberView> members;    // every member with a key in the DCS, sorted by name
  std::vector<HistoryEntry> history;
  nlohmann::json dynamic_config = nlohmann::json::object();  // the DCS `config` key
  std::optional<nlohmann::json> scheduled_switchover;        // the DCS `failover` key, if any
  std::string dcs_error;  // empty while the DCS answers; else why it does not
  // failsafe_mode in force, the failsafe key (member name -> REST API URL) as last read, and
  // whether failsafe is active here: on the primary, members' confirmations vouch for it while
  // its lease cannot; on a replica, it promised a primary (POST /failsafe) within ttl.
  bool failsafe_mode = false;
  std::optional<nlohmann::json> failsafe;
  bool failsafe_mode_is_active = false;
};

// Outcome of an operation, mapped to HTTP by the API: ok -> 200 (or 202 when `accepted`),
// precondition -> 412, unavailable -> 503, bad_request -> 400, conflict -> 409.
struct OpResult {
  enum class Status { ok, accepted, bad_request, precondition, unavailable, conflict };
  Status status = Status::ok;
  std::string message;            // shown to the user; names each member and why when refusing
  nlohmann::json body = nullptr;  // optional extra JSON for the response
};

struct SwitchoverRequest {
  std::optional<std::string> leader;        // must match the current leader when given
  std::optional<std::string> candidate;     // empty: the healthiest eligible replica
  std::optional<std::string> scheduled_at;  // ISO-8601; empty: now
};

struct RestartRequest {
  bool restart_pending = false;     // only if a parameter needs a restart
  std::optional<std::string> role;  // "primary"/"master" or "replica": only on that role
};

// Threading: snapshot() may be called from any thread and returns a copy. The operations are
// coroutines run on the control-plane io_context; they validate, write to the DCS or act on the
// local node, and report the outcome.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual NodeSnapshot snapshot() const = 0;

  virtual boost::asio::awaitable<OpResult> switchover(SwitchoverRequest request) = 0;
  virtual boost::asio::awaitable<OpResult> cancelSwitchover() = 0;
  virtual boost::asio::awaitable<OpResult> failover(std::string candidate) = 0;
  // Restarts this member's PostgreSQL (as /restart on one node does in Patroni).
  virtual boost::asio::awaitable<OpResult> restart(RestartRequest request) = 0;
  virtual boost::asio::awaitable<OpResult> reload() = 0;
  virtual boost::asio::awaitable<OpResult> reinitialize(bool force) = 0;
  // Cluster-wide config in the DCS `config` key: patch merges (null removes a key, as in
  // RFC 7386), replace stores the document as given. Both validate first.
  virtual boost::asio::awaitable<OpResult> patchConfig(nlohmann::json patch) = 0;
  virtual boost::asio::awaitable<OpResult> replaceConfig(nlohmann::json config) = 0;
  virtual boost::asio::awaitable<OpResult> setPaused(bool paused) = 0;
  // POST /failsafe: a primary whose DCS is out of reach asks this member to confirm it
  // (failsafe_mode). ok ("Accepted") when this member vouches for it, unavailable when
  // failsafe_mode is off here, conflict when this member runs as primary or takes the lock.
  virtual boost::asio::awaitable<OpResult> failsafe(nlohmann::json body) = 0;

  // More Prometheus text (format 0.0.4) appended to GET /metrics, e.g. the proxy's metrics.
  // Called on the control-plane thread; must not block.
  virtual std::string extraMetrics() const { return {}; }
};

}  // namespace keel::api
