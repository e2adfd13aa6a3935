#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/child_process.h"
#include "pg/pg_connection.h"
#include "pg/pg_files.h"
#include "pg/postgres.h"

namespace keel::pg {

// The real Postgres for PostgreSQL 15. Implementation is split by job:
//   postgres_instance.cc  postmaster process control (start, stop, fence, adoption)
//   postgres_data_dir.cc  initdb, pg_basebackup, pg_rewind, pg_controldata, removal
//   postgres_queries.cc   everything that talks libpq to a running server
//
// Every PostgreSQL binary runs as postgresql.run_as when the agent runs as root. The
// postmaster's output is appended to <data_dir>/../postgresql.log and its unix socket lives in
// <data_dir>/../run (0700). Keel's own libpq connections use TCP as the superuser.
//
// Threading: one worker thread owns the object (see Postgres); only fence() may be called from
// another thread.
class PostgresInstance final : public Postgres {
 public:
  explicit PostgresInstance(std::shared_ptr<const Config> config);
  // A postmaster still running is shut down in immediate mode, as it would be if the agent
  // died: call stop() first for a clean shutdown.
  ~PostgresInstance() override;

  bool initialized() const override;
  bool running() override;

  PgResult<void> initdb() override;
  PgResult<void> createRoles() override;
  PgResult<void> basebackup(const PgEndpoint& leader, const std::string& slot) override;

  // Precondition: called from a thread that lives as long as the agent. The postmaster's
  // parent-death signal (SIGQUIT: immediate shutdown) is tied to the calling thread, so it
  // fires when that thread exits, not only when the agent process dies.
  // A postmaster left over from an earlier agent on this data directory is stopped (pg_ctl
  // stop -m fast) first. On timeout the postmaster is left running (running() stays true;
  // it may still be replaying WAL): stop() it if it should not.
  PgResult<void> startPrimary() override;
  PgResult<void> startStandby(const PgEndpoint& upstream, const std::string& slot) override;
  PgResult<void> followUpstream(const PgEndpoint& upstream, const std::string& slot) override;

  PgResult<void> stop(StopMode mode) override;
  void fence() override;
  PgResult<void> reload() override;
  PgResult<void> promote() override;
  PgResult<void> checkpoint() override;
  PgResult<int> busyClientSessions() override;
  PgResult<void> rewind(const PgEndpoint& source) override;
  PgResult<void> removeDataDirectory() override;

  PgResult<ControlData> controlData() override;
  PgResult<PgStatus> status() override;

  PgResult<std::vector<ReplicationSlot>> slots() override;
  PgResult<void> createSlot(const std::string& name) override;
  PgResult<void> dropSlot(const std::string& name) override;
  PgResult<SyncStatus> syncStatus() override;
  PgResult<void> setSynchronousStandbyNames(const std::string& value) override;
  PgResult<void> alterSystem(
      const std::map<std::string, std::optional<std::string>>& parameters) override;
  PgResult<std::vector<std::pair<int, WalPosition>>> timelineHistory(const PgEndpoint& source,
                                                                     int timeline) override;

 private:
  PgResult<void> start(const std::optional<UpstreamSettings>& upstream);
  PgResult<void> waitUntilAccepting(std::size_t log_offset);
  // Stopping a postmaster that is not our child (left over from an earlier agent).
  PgResult<void> stopForeign(pid_t pid, StopMode mode);
  // The pid in postmaster.pid when it names a live postgres process that is not our child.
  std::optional<pid_t> foreignPostmaster() const;
  // Refuses (refused) when a postmaster, ours or foreign, uses the data directory.
  PgResult<void> requireStopped(const std::string& action);
  PgResult<void> ensureSourceCheckpointed(const PgEndpoint& source);
  void forgetChild();

  // Runs a PostgreSQL client program as run_as with LC_ALL=C, cwd = base dir.
  PgResult<CommandOutput> runTool(const std::string& what, std::vector<std::string> argv,
                                  std::chrono::milliseconds timeout,
                                  std::map<std::string, std::string> env = {});
  std::string binary(const char* name) const;
  ConnectParams localParams() const;
  ConnectParams superuserParams(const PgEndpoint& target) const;
  PgResult<PgConnection> connectLocal();

  std::shared_ptr<const Config> config_;
  const PostgresConfig& pg_;
  PgPaths paths_;
  ChildProcess child_;
  // The postmaster child's pid (also its process group), -1 when none: read by fence().
  std::atomic<pid_t> child_pid_{-1};
};

}  // namespace keel::pg
