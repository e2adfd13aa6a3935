#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "pg/postgres.h"

namespace keel::pg {

// The files Keel owns around a PostgreSQL data directory:
//   <data_dir>/keel.conf        settings Keel manages, included from postgresql.conf
//   <data_dir>/pg_hba.conf      rewritten by Keel
//   <data_dir>/standby.signal   present while the server should run as a standby
//   <data_dir>/../run/          unix socket directory, 0700, owned by the PostgreSQL user
//   <data_dir>/../postgresql.log  the postmaster's stdout/stderr (appended)
struct PgPaths {
  std::string data_dir;
  std::string base_dir;  // parent of data_dir
  std::string socket_dir;
  std::string log_file;
  // keel_fence (fence_deadline.h): the deadline file the agent maps, and the module PostgreSQL
  // preloads ("" when keel_fence.so is not next to the keel binary: no in-server fencing).
  std::string fence_deadline_file;
  std::string fence_library;
  std::string keel_conf() const { return data_dir + "/keel.conf"; }
  std::string postgresql_conf() const { return data_dir + "/postgresql.conf"; }
  std::string hba_conf() const { return data_dir + "/pg_hba.conf"; }
  std::string standby_signal() const { return data_dir + "/standby.signal"; }
  std::string postmaster_pid() const { return data_dir + "/postmaster.pid"; }
  std::string pg_version() const { return data_dir + "/PG_VERSION"; }
};
PgPaths pathsFor(const std::string& data_dir);

// Where a standby streams from.
struct UpstreamSettings {
  PgEndpoint upstream;
  std::string slot;  // empty: no primary_slot_name
};

inline constexpr std::string_view kKeelInclude = "include_if_exists = 'keel.conf'";

// In-server fencing: the module to preload and the deadline file it checks ("" for neither).
struct FenceSettings {
  std::string library;
  std::string deadline_file;
};

// keel.conf: listen address, port, socket directory, Keel's replication defaults (unless the
// user set them), the user's parameters, and for a standby primary_conninfo (replication
// credentials, application_name = member name), primary_slot_name and
// recovery_target_timeline; with `fence`, keel_fence in shared_preload_libraries (after the
// user's libraries) and its deadline file. Pure. Fails (refused) on an invalid parameter name.
PgResult<std::string> renderKeelConf(const PostgresConfig& pg, const std::string& member_name,
                                     const std::string& socket_dir,
                                     const std::optional<UpstreamSettings>& upstream,
                                     const FenceSettings& fence = {});

// pg_hba.conf: `local all all trust` (the socket directory is private to the PostgreSQL user,
// so this grants nothing that owning the data directory does not), the user's lines, then
// replication and superuser access over TCP with scram-sha-256. Pure. Fails (refused) on a
// role name that cannot be written to pg_hba.conf.
PgResult<std::string> renderPgHba(const PostgresConfig& pg);

// postgresql.conf with Keel's include line appended, or nullopt when it is already there.
std::optional<std::string> withKeelInclude(std::string_view postgresql_conf);

// The host Keel's own libpq connections use to reach the local server: the listen host, or
// loopback when it listens on a wildcard address.
std::string localConnectHost(const std::string& listen_host);

// Who owns what Keel creates for PostgreSQL: the run_as user when the agent runs as root,
// otherwise nobody is changed.
struct FileOwner {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
};
PgResult<FileOwner> resolveFileOwner(const std::string& run_as);

// Writes `content` atomically (temp file + rename) with `mode`, owned by `owner`.
PgResult<void> writeOwnedFile(const std::string& path, std::string_view content, mode_t mode,
                              const FileOwner& owner);
// Creates `dir` (and missing parents) with `mode`; what it creates, and `dir` itself, are
// handed to `owner`.
PgResult<void> makeOwnedDirectory(const std::string& dir, mode_t mode, const FileOwner& owner);
PgResult<void> removeFileIfExists(const std::string& path);
std::optional<std::string> readWholeFile(const std::string& path);
// The last `max_bytes` of a file from byte `from` on (starting at a line start when cut);
// empty if unreadable.
std::string fileTail(const std::string& path, std::size_t max_bytes = 2048, std::size_t from = 0);

// Ensures the include line in postgresql.conf and the socket directory, and writes keel.conf
// and pg_hba.conf.
PgResult<void> writeManagedConfig(const PgPaths& paths, const PostgresConfig& pg,
                                  const std::string& member_name,
                                  const std::optional<UpstreamSettings>& upstream,
                                  const FileOwner& owner);

}  // namespace keel::pg
