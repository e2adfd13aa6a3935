#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pg/control_data.h"
#include "pg/postgres_instance.h"
#include "pg/quoting.h"

namespace keel::pg {
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

// Copying a whole cluster or rewinding it has no natural bound; this one only catches a hang.
constexpr auto kCopyTimeout = std::chrono::milliseconds(std::chrono::hours(6));
constexpr auto kInitdbTimeout = std::chrono::milliseconds(10min);
constexpr auto kControlDataTimeout = std::chrono::milliseconds(30s);

bool emptyOrAbsent(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return true;
  }
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}

// A file holding a secret for one command: 0600, owned by the user the command runs as,
// removed when this goes out of scope.
class SecretFile {
 public:
  static PgResult<SecretFile> create(const std::string& dir, const std::string& content,
                                     const FileOwner& owner) {
    std::string path = dir + "/.keel-secret-XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0) {
      return fail(PgErrc::command_failed, "cannot create a temporary file in " + dir + ": " +
                                              std::strerror(errno) + "; check its permissions");
    }
    SecretFile file(path);
    bool ok = ::fchmod(fd, 0600) == 0 &&
              (!owner.change || ::fchown(fd, owner.uid, owner.gid) == 0) &&
              ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    int err = errno;
    ::close(fd);
    if (!ok) {
      return fail(PgErrc::command_failed,
                  "cannot write temporary file " + path + ": " + std::strerror(err));
    }
    return file;
  }
  SecretFile(SecretFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  SecretFile& operator=(SecretFile&&) = delete;
  ~SecretFile() {
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  const std::string& path() const { return path_; }

 private:
  explicit SecretFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

PgErrc toPgErrc(ProcessErrc code) {
  switch (code) {
    case ProcessErrc::timed_out:
      return PgErrc::timeout;
    case ProcessErrc::user_not_found:
      return PgErrc::refused;
    default:
      return PgErrc::command_failed;
  }
}

}  // namespace

bool PostgresInstance::initialized() const {
  std::error_code ec;
  return fs::exists(paths_.pg_version(), ec);
}

PgResult<CommandOutput> PostgresInstance::runTool(const std::string& what,
                                                  std::vector<std::string> argv,
                                                  std::chrono::milliseconds timeout,
                                                  std::map<std::string, std::string> env) {
  env["LC_ALL"] = "C";
  env["LANG"] = "C";
  SpawnOptions options{.argv = std::move(argv),
                       .env_overrides = std::move(env),
                       .cwd = fs::exists(paths_.base_dir) ? paths_.base_dir : "/",
                       .run_as = pg_.run_as};
  auto r = runCommand(std::move(options), timeout);
  if (!r) {
    return fail(toPgErrc(r.code()), what + " failed: " + r.message());
  }
  return std::move(*r);
}

PgResult<void> PostgresInstance::initdb() {
  if (!emptyOrAbsent(paths_.data_dir)) {
    return fail(PgErrc::refused, "initdb refused: " + paths_.data_dir +
                                     " exists and is not empty; remove it if it holds nothing "
                                     "worth keeping, or point postgresql.data_dir elsewhere");
  }
  if (pg_.superuser.password.empty()) {
    return fail(PgErrc::refused,
                "initdb refused: postgresql.superuser.password is empty, and Keel connects "
                "over TCP with scram-sha-256; set a password");
  }
  auto owner = resolveFileOwner(pg_.run_as);
  if (!owner) {
    return owner.failure();
  }
  if (auto r = makeOwnedDirectory(paths_.data_dir, 0700, *owner); !r) {
    return r;
  }
  auto pwfile = SecretFile::create(paths_.base_dir, pg_.superuser.password + "\n", *owner);
  if (!pwfile) {
    return pwfile.failure();
  }
  spdlog::info("initdb {}", paths_.data_dir);
  auto r =
      runTool("initdb",
              {binary("initdb"), "-D", paths_.data_dir, "--data-checksums", "-U",
               pg_.superuser.username, "--pwfile=" + pwfile->path(), "--auth-host=scram-sha-256",
               "--auth-local=trust", "--encoding=UTF8", "--locale=C"},
              kInitdbTimeout);
  if (!r) {
    // initdb cleans up what it created; an empty directory is harmless.
    return fail(r.code(), r.message() + "\nFix the cause above, then retry.");
  }
  return writeManagedConfig(paths_, pg_, config_->name, std::nullopt, *owner);
}

PgResult<void> PostgresInstance::basebackup(const PgEndpoint& leader, const std::string& slot) {
  if (auto r = requireStopped("take a base backup"); !r) {
    return r;
  }
  if (!emptyOrAbsent(paths_.data_dir)) {
    return fail(PgErrc::refused, "basebackup refused: " + paths_.data_dir +
                                     " is not empty; remove the data directory first");
  }
  auto owner = resolveFileOwner(pg_.run_as);
  if (!owner) {
    return owner.failure();
  }
  if (auto r = makeOwnedDirectory(paths_.data_dir, 0700, *owner); !r) {
    return r;
  }
  std::vector<std::string> argv = {binary("pg_basebackup"),
                                   "-D",
                                   paths_.data_dir,
                                   "-h",
                                   leader.host,
                                   "-p",
                                   std::to_string(leader.port),
                                   "-U",
                                   pg_.replication.username,
                                   "-X",
                                   "stream",
                                   "-c",
                                   "fast",
                                   "--no-password"};
  if (!slot.empty()) {
    argv.insert(argv.end(), {"-S", slot});
  }
  spdlog::info("pg_basebackup from {}:{} (slot '{}') into {}", leader.host, leader.port, slot,
               paths_.data_dir);
  auto r = runTool("pg_basebackup from " + leader.host + ":" + std::to_string(leader.port),
                   std::move(argv), kCopyTimeout,
                   {{"PGPASSWORD", pg_.replication.password},
                    {"PGCONNECT_TIMEOUT", "5"},
                    {"PGAPPNAME", "keel_basebackup"}});
  if (!r) {
    std::error_code ec;
    fs::remove_all(paths_.data_dir, ec);
    return fail(r.code(), r.message() +
                              "\nThe partial copy was removed. Check that the leader runs, that "
                              "the replication role and slot exist there, then retry.");
  }
  return writeManagedConfig(paths_, pg_, config_->name, std::nullopt, *owner);
}

PgResult<void> PostgresInstance::rewind(const PgEndpoint& source) {
  if (auto r = requireStopped("rewind"); !r) {
    return r;
  }
  if (!initialized()) {
    return fail(PgErrc::not_initialized,
                "cannot rewind: " + paths_.data_dir + " holds no cluster; take a base backup");
  }
  auto owner = resolveFileOwner(pg_.run_as);
  if (!owner) {
    return owner.failure();
  }
  if (auto r = ensureSourceCheckpointed(source); !r) {
    return r;
  }
  // The password goes through the environment, never argv (visible in ps).
  std::string conninfo = renderConninfo({{"host", source.host},
                                         {"port", std::to_string(source.port)},
                                         {"user", pg_.superuser.username},
                                         {"dbname", "postgres"},
                                         {"connect_timeout", "5"},
                                         {"application_name", "keel_rewind"}});
  spdlog::info("pg_rewind {} from {}:{}", paths_.data_dir, source.host, source.port);
  auto r = runTool(
      "pg_rewind from " + source.host + ":" + std::to_string(source.port),
      {binary("pg_rewind"), "--target-pgdata=" + paths_.data_dir, "--source-server=" + conninfo},
      kCopyTimeout, {{"PGPASSWORD", pg_.superuser.password}});
  // pg_rewind copies the source's configuration files (keel.conf and pg_hba.conf included):
  // put this member's back whatever happened.
  auto restored = writeManagedConfig(paths_, pg_, config_->name, std::nullopt, *owner);
  if (!r) {
    return fail(r.code(), r.message() +
                              "\nIf the rewind cannot succeed, remove the data directory and "
                              "take a new base backup.");
  }
  if (r->output.find("no rewind required") != std::string::npos) {
    spdlog::info("pg_rewind: no rewind required");
  }
  if (!restored) {
    return restored;
  }
  // Only a copied file can be here: requireStopped saw no live postmaster.
  return removeFileIfExists(paths_.postmaster_pid());
}

// PostgreSQL 15's pg_rewind takes the source's timeline from its control file, which names
// the old timeline until the first checkpoint after promotion; it then reports "no rewind
// required" for a target that did diverge. A checkpoint on the source settles that.
PgResult<void> PostgresInstance::ensureSourceCheckpointed(const PgEndpoint& source) {
  auto conn = PgConnection::open(superuserParams(source));
  if (!conn) {
    return fail(conn.code(), "cannot rewind from " + source.host + ":" +
                                 std::to_string(source.port) + ": " + conn.message());
  }
  auto rows = conn->query(
      "SELECT pg_is_in_recovery(), (SELECT timeline_id FROM pg_control_checkpoint()), "
      "CASE WHEN pg_is_in_recovery() THEN NULL ELSE "
      "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END");
  if (!rows) {
    return rows.failure();
  }
  if (rows->size() != 1 || (*rows)[0].size() != 3) {
    return fail(PgErrc::query_failed, "unexpected answer from the rewind source");
  }
  const Row& r = (*rows)[0];
  if (r[0] && *r[0] == "t") {
    return fail(PgErrc::source_in_recovery, "cannot rewind from " + source.host + ":" +
                                                std::to_string(source.port) +
                                                ": it is a standby; rewind from the primary");
  }
  if (r[1] && r[2] && *r[1] == *r[2]) {
    return {};
  }
  spdlog::info("checkpoint on {}:{} so its control file shows timeline {}", source.host,
               source.port, r[2].value_or("?"));
  return conn->execute("CHECKPOINT");
}

PgResult<void> PostgresInstance::removeDataDirectory() {
  if (auto r = requireStopped("remove the data directory"); !r) {
    return r;
  }
  std::error_code ec;
  fs::path dir = fs::path(paths_.data_dir).lexically_normal();
  fs::path resolved = fs::weakly_canonical(dir, ec);
  if (paths_.data_dir.empty() || dir == dir.root_path() || (!ec && resolved == "/") ||
      dir.relative_path().empty()) {
    return fail(PgErrc::refused, "refusing to remove '" + paths_.data_dir +
                                     "' as a data directory; check postgresql.data_dir");
  }
  spdlog::warn("removing data directory {}", paths_.data_dir);
  fs::remove_all(dir, ec);
  if (ec) {
    return fail(PgErrc::command_failed,
                "cannot remove " + paths_.data_dir + ": " + ec.message() + "; remove it by hand");
  }
  return {};
}

PgResult<ControlData> PostgresInstance::controlData() {
  if (!initialized()) {
    return fail(PgErrc::not_initialized,
                "no control data: " + paths_.data_dir + " holds no cluster");
  }
  auto r = runTool("pg_controldata", {binary("pg_controldata"), "-D", paths_.data_dir},
                   kControlDataTimeout);
  if (!r) {
    return r.failure();
  }
  return parseControlData(r->output);
}

}  // namespace keel::pg
