#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/wal_position.h"
#include "config/config.h"

namespace keel::pg {

enum class PgErrc {
  not_initialized,    // no data directory (PG_VERSION missing)
  command_failed,     // initdb, pg_basebackup, pg_rewind, pg_controldata failed (message: output)
  connection_failed,  // libpq could not connect
  query_failed,
  timeout,
  not_running,
  system_id_mismatch,  // the data directory belongs to another cluster
  refused,             // precondition not met (message says which)
  source_in_recovery,  // the rewind source is a standby (e.g. a new leader still promoting)
};

template <typename T>
using PgResult = Result<T, PgErrc>;

// A libpq target: another member's PostgreSQL.
struct PgEndpoint {
  std::string host;
  std::uint16_t port = 0;
};

// From pg_controldata: readable whether or not PostgreSQL runs.
struct ControlData {
  std::uint64_t system_identifier = 0;
  std::string cluster_state;        // "in production", "shut down", "shut down in recovery", ...
  WalPosition checkpoint_location;  // "Latest checkpoint location"
  WalPosition redo_location;        // "Latest checkpoint's REDO location"
  int timeline = 0;                 // "Latest checkpoint's TimeLineID"
  WalPosition min_recovery_end;     // "Minimum recovery ending location"
  int min_recovery_end_timeline = 0;
  bool cleanly_shut_down() const {
    return cluster_state == "shut down" || cluster_state == "shut down in recovery";
  }
};

// A live reading through libpq. All LSNs are as PostgreSQL reports them.
struct PgStatus {
  bool in_recovery = false;
  int timeline = 0;  // primary: current; replica: the one being replayed/received
  std::uint64_t system_identifier = 0;
  WalPosition write_lsn;            // primary: pg_current_wal_lsn()
  WalPosition receive_lsn;          // replica: pg_last_wal_receive_lsn() (flushed to disk)
  WalPosition replay_lsn;           // replica: pg_last_wal_replay_lsn()
  std::string wal_receiver_state;   // replica: "streaming", "starting", ... or empty
  std::string wal_receiver_sender;  // replica: "host:port" of the upstream it streams from
  bool pending_restart = false;     // some setting in pg_settings is pending_restart
  std::vector<std::string> pending_restart_parameters;
  double postmaster_start_epoch = 0;  // pg_postmaster_start_time()
  // Replica: how far replay trails what it has received, in time: 0 when everything received
  // is replayed, else the age of the last replayed transaction. nullopt on a primary, or when
  // no transaction was replayed since start.
  std::optional<std::int64_t> replay_delay_ms;

  // The position that counts for failover: for a primary its write position, for a replica
  // the furthest WAL it holds (received or replayed).
  WalPosition wal_position() const {
    return in_recovery ? std::max(receive_lsn, replay_lsn) : write_lsn;
  }
};

// A primary's view of its synchronous replication.
struct SyncStatus {
  std::string standby_names;  // synchronous_standby_names as this server applies it now
  WalPosition write_lsn;      // pg_current_wal_lsn(), read after standby_names
  struct Standby {
    std::string application_name;
    std::string state;  // pg_stat_replication.state
    WalPosition flush_lsn;
  };
  std::vector<Standby> standbys;  // pg_stat_replication
};

struct ReplicationSlot {
  std::string name;
  bool active = false;
  WalPosition restart_lsn;
};

// Controls the local PostgreSQL server of one member.
//
// Threading: every method blocks (processes, libpq) and must run on the agent's worker thread,
// never on the control-plane io_context. The postmaster runs as this object's child with a
// parent-death signal, so the worker thread that calls start() must live as long as the agent.
// Not thread-safe: one worker thread owns it.
class Postgres {
 public:
  virtual ~Postgres() = default;

  // PG_VERSION exists in the data directory.
  virtual bool initialized() const = 0;
  // The postmaster child is alive (reaps it if it died).
  virtual bool running() = 0;

  // initdb with data checksums, the superuser and its password, keel's postgresql.conf
  // include and pg_hba.conf. Refuses a non-empty data directory.
  virtual PgResult<void> initdb() = 0;
  // On a freshly bootstrapped running primary: creates the replication role (idempotent).
  virtual PgResult<void> createRoles() = 0;
  // pg_basebackup from `leader` into the (empty) data directory, streaming WAL, using the
  // replication slot `slot` that the leader created. Removes a partial copy on failure.
  virtual PgResult<void> basebackup(const PgEndpoint& leader, const std::string& slot) = 0;

  // Starts the postmaster as a child and waits until it accepts connections.
  // As primary: no standby.signal. As standby of `upstream`: standby.signal, primary_conninfo
  // to it (replication credentials) and primary_slot_name = `slot`, recovery_target_timeline
  // latest. Rewrites keel's managed config file (parameters + these settings) first.
  virtual PgResult<void> startPrimary() = 0;
  virtual PgResult<void> startStandby(const PgEndpoint& upstream, const std::string& slot) = 0;
  // Standby already running: point it at a new upstream (ALTER SYSTEM-free: rewrites the
  // managed file and reloads; PostgreSQL 13+ applies primary_conninfo on reload).
  virtual PgResult<void> followUpstream(const PgEndpoint& upstream, const std::string& slot) = 0;

  enum class StopMode { smart, fast, immediate };
  virtual PgResult<void> stop(StopMode mode) = 0;
  // Immediately kills the postmaster and every backend (SIGKILL to its process group): the
  // fastest way to stop accepting writes. Safe from any thread; does not wait.
  virtual void fence() = 0;
  virtual PgResult<void> reload() = 0;
  // pg_promote(wait => true); returns once the server accepts writes.
  virtual PgResult<void> promote() = 0;
  virtual PgResult<void> checkpoint() = 0;
  // Client sessions (not Keel's own, not replication) that are inside a transaction or running
  // a statement: what a switchover waits for before it stops the primary.
  virtual PgResult<int> busyClientSessions() = 0;
  // pg_rewind against `source` (a running primary). Target must be stopped.
  virtual PgResult<void> rewind(const PgEndpoint& source) = 0;
  // Deletes the data directory (for a re-clone). Callers must have checked that this node
  // neither holds nor last held the leader lock.
  virtual PgResult<void> removeDataDirectory() = 0;

  virtual PgResult<ControlData> controlData() = 0;
  virtual PgResult<PgStatus> status() = 0;

  // Physical replication slots on this (primary) server.
  virtual PgResult<std::vector<ReplicationSlot>> slots() = 0;
  virtual PgResult<void> createSlot(const std::string& name) = 0;
  virtual PgResult<void> dropSlot(const std::string& name) = 0;

  // ALTER SYSTEM SET name = value (nullopt: RESET) for each entry, then pg_reload_conf().
  virtual PgResult<void> alterSystem(
      const std::map<std::string, std::optional<std::string>>& parameters) = 0;

  // Running primary: synchronous_standby_names, its WAL position and its walsenders.
  virtual PgResult<SyncStatus> syncStatus() = 0;
  // ALTER SYSTEM SET synchronous_standby_names (kept across restarts in
  // postgresql.auto.conf), then pg_reload_conf(). Works on a standby too, so a member sets it
  // before it promotes.
  virtual PgResult<void> setSynchronousStandbyNames(const std::string& value) = 0;

  // The timeline history of a running primary `source`: (timeline, switch LSN) pairs, as in
  // its NNNNNNNN.history file. Used to tell whether this node's WAL diverged.
  virtual PgResult<std::vector<std::pair<int, WalPosition>>> timelineHistory(
      const PgEndpoint& source, int timeline) = 0;
};

// The real implementation, for the member described by `config`.
std::unique_ptr<Postgres> makePostgres(std::shared_ptr<const Config> config);

// Slot names allow [a-z0-9_] only: lower-case, other characters become '_'.
std::string slotNameFor(const std::string& member_name);

}  // namespace keel::pg
