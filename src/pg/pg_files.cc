#include "pg/pg_files.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "pg/fence_deadline.h"
#include "pg/quoting.h"

namespace keel::pg {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string stripBrackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool isManaged(const std::string& lower_name) {
  return std::find(kManagedParameters.begin(), kManagedParameters.end(), lower_name) !=
         kManagedParameters.end();
}

Failure<PgErrc> ioFailure(const std::string& what, const std::string& path, int err) {
  return fail(PgErrc::command_failed, what + " " + path + ": " + std::strerror(err) +
                                          "; check the permissions and free space of " +
                                          fs::path(path).parent_path().string());
}

}  // namespace

PgPaths pathsFor(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  PgPaths p;
  p.data_dir = dir;
  std::string parent = fs::path(dir).parent_path().string();
  p.base_dir = parent.empty() ? "." : parent;
  p.socket_dir = p.base_dir + "/run";
  p.log_file = p.base_dir + "/postgresql.log";
  p.fence_deadline_file = p.base_dir + "/fence.deadline";
  p.fence_library = fenceLibraryNextToExecutable();
  return p;
}

PgResult<std::string> renderKeelConf(const PostgresConfig& pg, const std::string& member_name,
                                     const std::string& socket_dir,
                                     const std::optional<UpstreamSettings>& upstream,
                                     const FenceSettings& fence) {
  static const std::vector<std::pair<std::string, std::string>> kDefaults = {
      {"wal_level", "replica"},
      {"hot_standby", "on"},
      {"max_wal_senders", "10"},
      {"max_replication_slots", "10"},
      {"wal_keep_size", "128MB"},
      {"wal_log_hints", "on"},
      {"hot_standby_feedback", "on"},
      {"password_encryption", "scram-sha-256"},
      // A standby retries its upstream after 1 s instead of 5 s, so it reattaches quickly
      // when a new leader has just created its replication slot.
      {"wal_retrieve_retry_interval", "1s"},
      // A standby reports its flush position at least every second even when no WAL arrives:
      // commits that wait for synchronous standbys are released by such a report after the
      // leader changed synchronous_standby_names (10 s by default), and a cut replication link
      // shows as a flush position that stops moving within seconds.
      {"wal_receiver_status_interval", "1s"},
  };
  std::map<std::string, std::string> user;  // lower-case name -> value
  for (const auto& [name, value] : pg.parameters) {
    if (!validParameterName(name)) {
      return fail(PgErrc::refused, "postgresql.parameters: '" + name +
                                       "' is not a valid parameter name; use letters, digits, "
                                       "'_' and '.' only");
    }
    user[lower(name)] = value;
  }

  std::ostringstream out;
  out << "# Written by Keel on every start and reconfiguration: edits here are lost.\n"
         "# Set parameters in Keel's configuration (postgresql.parameters) instead.\n";
  out << "listen_addresses = " << quoteConfString(stripBrackets(pg.listen.host)) << "\n";
  out << "port = " << pg.listen.port << "\n";
  out << "unix_socket_directories = " << quoteConfString(socket_dir) << "\n";
  for (const auto& [name, value] : kDefaults) {
    if (!user.count(name)) {
      out << name << " = " << quoteConfString(value) << "\n";
    }
  }
  const bool fenced = !fence.library.empty() && !fence.deadline_file.empty();
  for (const auto& [name, value] : user) {
    if (!isManaged(name) && !(fenced && name == "shared_preload_libraries")) {
      out << name << " = " << quoteConfString(value) << "\n";
    }
  }
  if (fenced) {
    std::string preload =
        user.count("shared_preload_libraries") ? user["shared_preload_libraries"] : std::string();
    while (!preload.empty() && (preload.back() == ' ' || preload.back() == ',')) {
      preload.pop_back();
    }
    // A list element in double quotes may hold any path (PostgreSQL's SplitDirectoriesString).
    preload += (preload.empty() ? "" : ", ") + std::string("\"") + fence.library + "\"";
    out << "shared_preload_libraries = " << quoteConfString(preload) << "\n";
    out << "keel.fence_deadline_file = " << quoteConfString(fence.deadline_file) << "\n";
  }
  if (upstream) {
    std::string conninfo = renderConninfo({
        {"host", stripBrackets(upstream->upstream.host)},
        {"port", std::to_string(upstream->upstream.port)},
        {"user", pg.replication.username},
        {"password", pg.replication.password},
        {"application_name", member_name},
        {"connect_timeout", "2"},
    });
    out << "primary_conninfo = " << quoteConfString(conninfo) << "\n";
    if (!upstream->slot.empty()) {
      out << "primary_slot_name = " << quoteConfString(upstream->slot) << "\n";
    }
    out << "recovery_target_timeline = 'latest'\n";
  }
  return out.str();
}

PgResult<std::string> renderPgHba(const PostgresConfig& pg) {
  for (const auto* role : {&pg.replication.username, &pg.superuser.username}) {
    if (!validHbaName(*role)) {
      return fail(PgErrc::refused, "role name '" + *role +
                                       "' cannot be written to pg_hba.conf; choose a name "
                                       "without double quotes or line breaks");
    }
  }
  std::ostringstream out;
  out << "# Written by Keel on every start: edits here are lost. Add rules in Keel's\n"
         "# configuration (postgresql.pg_hba); they come before Keel's own rules.\n"
         "# Unix sockets live in a directory only the PostgreSQL user can enter.\n"
         "local all all trust\n";
  for (const auto& line : pg.pg_hba) {
    // One configured entry is one line: a line break would smuggle in further rules.
    std::string clean = line;
    std::replace(clean.begin(), clean.end(), '\n', ' ');
    std::replace(clean.begin(), clean.end(), '\r', ' ');
    out << clean << "\n";
  }
  out << "host replication " << quoteHbaName(pg.replication.username) << " all scram-sha-256\n";
  out << "host all " << quoteHbaName(pg.superuser.username) << " all scram-sha-256\n";
  return out.str();
}

std::optional<std::string> withKeelInclude(std::string_view conf) {
  std::string_view rest = conf;
  while (!rest.empty()) {
    auto eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    if (line == kKeelInclude) {
      return std::nullopt;
    }
  }
  std::string out(conf);
  if (!out.empty() && out.back() != '\n') {
    out.push_back('\n');
  }
  out += "# Keel's managed settings; they override the lines above.\n";
  out += kKeelInclude;
  out.push_back('\n');
  return out;
}

std::string localConnectHost(const std::string& listen_host) {
  std::string host = stripBrackets(listen_host);
  if (host.empty() || host == "*" || host == "0.0.0.0") {
    return "127.0.0.1";
  }
  if (host == "::") {
    return "::1";
  }
  return host;
}

PgResult<FileOwner> resolveFileOwner(const std::string& run_as) {
  FileOwner owner;
  if (geteuid() != 0 || run_as.empty()) {
    return owner;
  }
  struct passwd pwd {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(run_as.c_str(), &pwd, buf.data(), buf.size(), &found) != 0 || !found) {
    return fail(PgErrc::refused, "user '" + run_as +
                                     "' (postgresql.run_as) does not exist; create it or set "
                                     "postgresql.run_as to an existing unprivileged user");
  }
  if (pwd.pw_uid == 0) {
    return fail(PgErrc::refused, "postgresql.run_as is '" + run_as +
                                     "', which is root; PostgreSQL refuses to run as root, set "
                                     "an unprivileged user");
  }
  owner.change = true;
  owner.uid = pwd.pw_uid;
  owner.gid = pwd.pw_gid;
  return owner;
}

PgResult<void> writeOwnedFile(const std::string& path, std::string_view content, mode_t mode,
                              const FileOwner& owner) {
  std::string tmp = path + ".keel-tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return ioFailure("cannot create", tmp, errno);
  }
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ioFailure("cannot write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  bool ok = ::fchmod(fd, mode) == 0 && (!owner.change || ::fchown(fd, owner.uid, owner.gid) == 0) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ioFailure("cannot set owner/mode of", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return ioFailure("cannot rename into place", path, err);
  }
  return {};
}

PgResult<void> makeOwnedDirectory(const std::string& dir, mode_t mode, const FileOwner& owner) {
  std::vector<fs::path> created;
  fs::path target = fs::path(dir).lexically_normal();
  for (fs::path p = target; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p, ec)) {
      break;
    }
    created.push_back(p);
  }
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    // Intermediate directories are traversable; the target gets `mode`.
    mode_t m = (*it == target) ? mode : 0755;
    if (::mkdir(it->c_str(), m) != 0 && errno != EEXIST) {
      return ioFailure("cannot create directory", it->string(), errno);
    }
    if (owner.change && ::chown(it->c_str(), owner.uid, owner.gid) != 0) {
      return ioFailure("cannot change the owner of", it->string(), errno);
    }
  }
  if (::chmod(target.c_str(), mode) != 0) {
    return ioFailure("cannot change the mode of", target.string(), errno);
  }
  if (owner.change && ::chown(target.c_str(), owner.uid, owner.gid) != 0) {
    return ioFailure("cannot change the owner of", target.string(), errno);
  }
  return {};
}

PgResult<void> removeFileIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ioFailure("cannot remove", path, errno);
  }
  return {};
}

std::optional<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fileTail(const std::string& path, std::size_t max_bytes, std::size_t from) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return {};
  }
  auto size = static_cast<std::size_t>(in.tellg());
  if (from >= size) {
    return {};
  }
  std::size_t start = size - from > max_bytes ? size - max_bytes : from;
  bool cut = start > from;
  in.seekg(static_cast<std::streamoff>(start));
  std::string out(size - start, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  if (cut) {
    auto nl = out.find('\n');
    if (nl != std::string::npos && nl + 1 < out.size()) {
      out.erase(0, nl + 1);
    }
  }
  return out;
}

PgResult<void> writeManagedConfig(const PgPaths& paths, const PostgresConfig& pg,
                                  const std::string& member_name,
                                  const std::optional<UpstreamSettings>& upstream,
                                  const FileOwner& owner) {
  auto conf = readWholeFile(paths.postgresql_conf());
  if (!conf) {
    return fail(PgErrc::not_initialized,
                paths.postgresql_conf() +
                    " cannot be read; the data directory is incomplete, re-create it (initdb or "
                    "basebackup)");
  }
  if (auto updated = withKeelInclude(*conf)) {
    if (auto r = writeOwnedFile(paths.postgresql_conf(), *updated, 0600, owner); !r) {
      return r;
    }
  }
  // keel.conf names the socket directory; PostgreSQL does not start without it.
  if (auto r = makeOwnedDirectory(paths.socket_dir, 0700, owner); !r) {
    return r;
  }
  auto keel_conf = renderKeelConf(pg, member_name, paths.socket_dir, upstream,
                                  FenceSettings{paths.fence_library, paths.fence_deadline_file});
  if (!keel_conf) {
    return keel_conf.failure();
  }
  if (auto r = writeOwnedFile(paths.keel_conf(), *keel_conf, 0600, owner); !r) {
    return r;
  }
  auto hba = renderPgHba(pg);
  if (!hba) {
    return hba.failure();
  }
  return writeOwnedFile(paths.hba_conf(), *hba, 0600, owner);
}

}  // namespace keel::pg
