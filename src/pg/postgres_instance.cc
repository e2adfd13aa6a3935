#include "pg/postgres_instance.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <thread>

#include "common/clock.h"

namespace keel::pg {
namespace {

using namespace std::chrono_literals;

const char* modeName(Postgres::StopMode mode) {
  switch (mode) {
    case Postgres::StopMode::smart:
      return "smart";
    case Postgres::StopMode::fast:
      return "fast";
    case Postgres::StopMode::immediate:
      return "immediate";
  }
  return "fast";
}

int modeSignal(Postgres::StopMode mode) {
  switch (mode) {
    case Postgres::StopMode::smart:
      return SIGTERM;
    case Postgres::StopMode::fast:
      return SIGINT;
    case Postgres::StopMode::immediate:
      return SIGQUIT;
  }
  return SIGINT;
}

std::string trimSpace(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.pop_back();
  }
  return s;
}

// A live (not zombie) process whose command name is postgres.
bool isLivePostgresProcess(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) {
    return false;
  }
  auto stat = readWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat) {
    auto close_paren = stat->rfind(')');
    if (close_paren != std::string::npos && close_paren + 2 < stat->size() &&
        ((*stat)[close_paren + 2] == 'Z' || (*stat)[close_paren + 2] == 'X')) {
      return false;
    }
  }
  auto comm = readWholeFile("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) {
    return false;
  }
  std::string name = trimSpace(*comm);
  return name == "postgres" || name == "postmaster";
}

std::size_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

// What the postmaster printed since `offset` (this start attempt), at most ~2 KiB.
std::string logSince(const std::string& path, std::size_t offset) {
  return fileTail(path, 2048, offset);
}

}  // namespace

PostgresInstance::PostgresInstance(std::shared_ptr<const Config> config)
    : config_(std::move(config)), pg_(config_->postgresql), paths_(pathsFor(pg_.data_dir)) {}

PostgresInstance::~PostgresInstance() {
  if (!child_.running() || child_.tryWait()) {
    return;
  }
  spdlog::warn("postgres (pid {}) still runs as the controller goes away; immediate shutdown",
               child_.pid());
  child_.signal(SIGQUIT);
  if (!child_.waitFor(std::min<std::chrono::milliseconds>(pg_.stop_timeout, 10s))) {
    ::kill(-child_.pid(), SIGKILL);
    child_.waitFor(5s);
  }
  forgetChild();
}

std::string PostgresInstance::binary(const char* name) const {
  std::string dir = pg_.bin_dir;
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return dir + "/" + name;
}

ConnectParams PostgresInstance::localParams() const {
  ConnectParams p;
  p.host = localConnectHost(pg_.listen.host);
  p.port = pg_.listen.port;
  p.user = pg_.superuser.username;
  p.password = pg_.superuser.password;
  return p;
}

ConnectParams PostgresInstance::superuserParams(const PgEndpoint& target) const {
  ConnectParams p = localParams();
  p.host = target.host;
  p.port = target.port;
  return p;
}

PgResult<PgConnection> PostgresInstance::connectLocal() {
  return PgConnection::open(localParams());
}

void PostgresInstance::forgetChild() {
  child_pid_.store(-1);
}

bool PostgresInstance::running() {
  if (child_.pid() <= 0) {
    return false;
  }
  if (auto status = child_.tryWait(); status && child_pid_.load() > 0) {
    spdlog::warn("postgres (pid {}) {}; see {}", child_.pid(), describeWaitStatus(*status),
                 paths_.log_file);
    forgetChild();
  }
  return child_.running();
}

std::optional<pid_t> PostgresInstance::foreignPostmaster() const {
  auto text = readWholeFile(paths_.postmaster_pid());
  if (!text) {
    return std::nullopt;
  }
  std::string first = trimSpace(text->substr(0, text->find('\n')));
  pid_t pid = 0;
  auto [ptr, ec] = std::from_chars(first.data(), first.data() + first.size(), pid);
  if (ec != std::errc() || ptr != first.data() + first.size() || pid <= 0 ||
      pid == child_pid_.load()) {
    return std::nullopt;
  }
  if (!isLivePostgresProcess(pid)) {
    return std::nullopt;  // stale: PostgreSQL itself replaces it on start
  }
  return pid;
}

PgResult<void> PostgresInstance::requireStopped(const std::string& action) {
  if (running()) {
    return fail(PgErrc::refused, "cannot " + action + ": postgres runs (pid " +
                                     std::to_string(child_.pid()) + "); stop it first");
  }
  if (auto pid = foreignPostmaster()) {
    return fail(PgErrc::refused, "cannot " + action + ": a postmaster (pid " +
                                     std::to_string(*pid) + ") not started by this agent uses " +
                                     paths_.data_dir + "; stop it first");
  }
  return {};
}

PgResult<void> PostgresInstance::startPrimary() {
  return start(std::nullopt);
}

PgResult<void> PostgresInstance::startStandby(const PgEndpoint& upstream, const std::string& slot) {
  return start(UpstreamSettings{upstream, slot});
}

PgResult<void> PostgresInstance::start(const std::optional<UpstreamSettings>& upstream) {
  const char* role = upstream ? "standby" : "primary";
  if (!initialized()) {
    return fail(PgErrc::not_initialized, "cannot start postgres: " + paths_.data_dir +
                                             " holds no cluster (PG_VERSION missing); run "
                                             "initdb or basebackup first");
  }
  if (running()) {
    return fail(PgErrc::refused, "cannot start postgres as " + std::string(role) +
                                     ": it already runs (pid " + std::to_string(child_.pid()) +
                                     "); stop it first, or promote/follow instead");
  }
  if (auto foreign = foreignPostmaster()) {
    spdlog::warn("a postmaster (pid {}) not started by this agent runs on {}; stopping it (fast)",
                 *foreign, paths_.data_dir);
    if (auto r = stopForeign(*foreign, StopMode::fast); !r) {
      return r;
    }
  }
  auto owner = resolveFileOwner(pg_.run_as);
  if (!owner) {
    return owner.failure();
  }
  if (auto r = writeManagedConfig(paths_, pg_, config_->name, upstream, *owner); !r) {
    return r;
  }
  if (upstream) {
    if (auto r = writeOwnedFile(paths_.standby_signal(), "", 0600, *owner); !r) {
      return r;
    }
  } else if (auto r = removeFileIfExists(paths_.standby_signal()); !r) {
    return r;
  }

  std::size_t log_offset = fileSize(paths_.log_file);
  {
    std::ofstream log(paths_.log_file, std::ios::app);
    log << isoTimestamp(wallClockSeconds()) << " keel: starting postgres as " << role << "\n";
  }
  log_offset = std::max(log_offset, fileSize(paths_.log_file));
  SpawnOptions options{
      .argv = {binary("postgres"), "-D", paths_.data_dir},
      .cwd = paths_.base_dir,
      .run_as = pg_.run_as,
      .parent_death_signal = SIGQUIT,
      .output_path = paths_.log_file,
      .new_process_group = true,
  };
  auto child = ChildProcess::spawn(options);
  if (!child) {
    return fail(PgErrc::command_failed, "cannot start postgres: " + child.message());
  }
  child_ = std::move(*child);
  child_pid_.store(child_.pid());
  spdlog::info("postgres started as {} (pid {}), log {}", role, child_.pid(), paths_.log_file);
  return waitUntilAccepting(log_offset);
}

PgResult<void> PostgresInstance::waitUntilAccepting(std::size_t log_offset) {
  auto deadline = std::chrono::steady_clock::now() + pg_.start_timeout;
  ConnectParams params = localParams();
  for (;;) {
    if (auto status = child_.tryWait()) {
      forgetChild();
      return fail(PgErrc::command_failed, "postgres " + describeWaitStatus(*status) +
                                              " during start-up; fix the cause " + "in " +
                                              paths_.log_file + ", whose end reads:\n" +
                                              logSince(paths_.log_file, log_offset));
    }
    if (acceptsConnections(params)) {
      return {};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(PgErrc::timeout,
                  "postgres (pid " + std::to_string(child_.pid()) +
                      ") did not accept connections on " + params.host + ":" +
                      std::to_string(params.port) + " within " +
                      std::to_string(pg_.start_timeout.count() / 1000) +
                      " s (postgresql.start_timeout); it is left running (it may still be "
                      "recovering); " +
                      paths_.log_file + " ends with:\n" + logSince(paths_.log_file, log_offset));
    }
    std::this_thread::sleep_for(100ms);
  }
}

PgResult<void> PostgresInstance::followUpstream(const PgEndpoint& upstream,
                                                const std::string& slot) {
  if (!running()) {
    return fail(PgErrc::not_running,
                "cannot follow a new upstream: postgres is not running; use startStandby");
  }
  auto owner = resolveFileOwner(pg_.run_as);
  if (!owner) {
    return owner.failure();
  }
  if (auto r =
          writeManagedConfig(paths_, pg_, config_->name, UpstreamSettings{upstream, slot}, *owner);
      !r) {
    return r;
  }
  return reload();
}

PgResult<void> PostgresInstance::reload() {
  if (running()) {
    if (!child_.signal(SIGHUP)) {
      return fail(PgErrc::not_running,
                  "cannot signal postgres (pid " + std::to_string(child_.pid()) + ") to reload");
    }
    return {};
  }
  auto conn = connectLocal();
  if (!conn) {
    return fail(PgErrc::not_running,
                "cannot reload: postgres is not running (" + conn.message() + ")");
  }
  return conn->execute("SELECT pg_reload_conf()");
}

PgResult<void> PostgresInstance::stop(StopMode mode) {
  if (!running()) {
    if (auto foreign = foreignPostmaster()) {
      return stopForeign(*foreign, mode);
    }
    return {};  // already stopped
  }
  pid_t pid = child_.pid();
  spdlog::info("stopping postgres (pid {}, {} mode)", pid, modeName(mode));
  child_.signal(modeSignal(mode));
  if (auto status = child_.waitFor(pg_.stop_timeout)) {
    forgetChild();
    spdlog::info("postgres (pid {}) {}", pid, describeWaitStatus(*status));
    return {};
  }
  spdlog::warn("postgres (pid {}) did not stop within {} ms ({} mode); killing its process group",
               pid, pg_.stop_timeout.count(), modeName(mode));
  ::kill(-pid, SIGKILL);
  auto status = child_.waitFor(10s);
  forgetChild();
  if (!status) {
    return fail(PgErrc::timeout, "postgres (pid " + std::to_string(pid) +
                                     ") survived SIGKILL for 10 s; check the host (D state, "
                                     "hung storage)");
  }
  return {};
}

PgResult<void> PostgresInstance::stopForeign(pid_t pid, StopMode mode) {
  auto secs = std::max<long long>(1, pg_.stop_timeout.count() / 1000);
  auto r = runTool("pg_ctl stop",
                   {binary("pg_ctl"), "stop", "-D", paths_.data_dir, "-m", modeName(mode), "-w",
                    "-t", std::to_string(secs)},
                   pg_.stop_timeout + 10s);
  if (!r && isLivePostgresProcess(pid)) {
    return fail(r.code(), "cannot stop the postmaster (pid " + std::to_string(pid) + ") left on " +
                              paths_.data_dir + ": " + r.message());
  }
  return {};
}

void PostgresInstance::fence() {
  pid_t pid = child_pid_.load();
  if (pid <= 0) {
    auto foreign = foreignPostmaster();
    if (!foreign) {
      return;
    }
    pid = *foreign;
  }
  // The postmaster leads its process group (new_process_group, or pg_ctl's setsid), so the
  // group signal reaches every backend at once, before any can commit another transaction.
  if (::getpgid(pid) == pid) {
    ::kill(-pid, SIGKILL);
  }
  ::kill(pid, SIGKILL);
  spdlog::warn("fenced postgres: SIGKILL to postmaster {} and its process group", pid);
}

std::unique_ptr<Postgres> makePostgres(std::shared_ptr<const Config> config) {
  return std::make_unique<PostgresInstance>(std::move(config));
}

std::string slotNameFor(const std::string& member_name) {
  std::string out;
  out.reserve(member_name.size());
  for (char c : member_name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      out.push_back(static_cast<char>(std::tolower(u)));
    } else {
      out.push_back('_');
    }
  }
  if (out.size() > 63) {  // NAMEDATALEN - 1
    out.resize(63);
  }
  return out;
}

}  // namespace keel::pg
