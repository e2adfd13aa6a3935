#pragma once

// Helpers for integration tests that run real PostgreSQL 15 servers on loopback.

#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"
#include "pg/postgres.h"

namespace keel::pg::testing {

// A fresh directory under /tmp, traversable by the PostgreSQL user, removed with everything
// in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/keel-pg-XXXXXX";
    if (::mkdtemp(tmpl.data())) {
      path_ = tmpl;
      ::chmod(path_.c_str(), 0755);
    }
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback TCP port nobody listens on right now (bound to port 0, then released).
inline std::uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) {
    ::close(fd);
  }
  return port;
}

// When the tests run as root, PostgreSQL runs as this user, which must exist.
inline bool runAsUserUsable(const std::string& user) {
  return ::geteuid() != 0 || ::getpwnam(user.c_str()) != nullptr;
}

// A member's config: data under <base>/<name>, PostgreSQL on 127.0.0.1:<port>, small settings
// so several servers fit on a small test machine.
inline std::shared_ptr<Config> memberConfig(const std::string& base, const std::string& name,
                                            std::uint16_t port) {
  auto c = std::make_shared<Config>();
  c->scope = "pgtest";
  c->name = name;
  c->data_dir = base + "/" + name;
  c->postgresql.data_dir = c->data_dir + "/pgdata";
  c->postgresql.listen = {"127.0.0.1", port};
  c->postgresql.connect_address = c->postgresql.listen;
  c->postgresql.superuser = {"postgres", "su-pass'\\word"};
  c->postgresql.replication = {"replicator", "rep pass'word"};
  c->postgresql.parameters = {{"shared_buffers", "16MB"},
                              {"max_connections", "30"},
                              {"fsync", "off"},
                              {"checkpoint_timeout", "30min"}};
  c->postgresql.start_timeout = std::chrono::seconds(30);
  c->postgresql.stop_timeout = std::chrono::seconds(10);
  return c;
}

// A live, non-zombie process.
inline bool processAlive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) {
    return false;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return !(paren != std::string::npos && paren + 2 < text.size() &&
           (text[paren + 2] == 'Z' || text[paren + 2] == 'X'));
}

// The end of a file (log files, for failure messages).
inline std::string fileText(const std::string& path, std::size_t max_bytes = 6000) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// The postmaster pid recorded in a data directory, or 0.
inline pid_t postmasterPid(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// Polls `condition` every 100 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// One member's Postgres; on destruction kills whatever postmaster still runs on its data
// directory, so a failing test leaves no server behind.
struct PgMember {
  std::shared_ptr<Config> config;
  std::unique_ptr<Postgres> pg;

  PgMember(const std::string& base, const std::string& name)
      : config(memberConfig(base, name, freePort())), pg(makePostgres(config)) {}
  ~PgMember() {
    pg->fence();
    pg.reset();
    pid_t left = postmasterPid(config->postgresql.data_dir);
    if (processAlive(left)) {
      ::kill(left, SIGKILL);
    }
  }
  PgMember(const PgMember&) = delete;
  PgMember& operator=(const PgMember&) = delete;

  PgEndpoint endpoint() const {
    return {config->postgresql.listen.host, config->postgresql.listen.port};
  }
  const std::string& dataDir() const { return config->postgresql.data_dir; }
};

}  // namespace keel::pg::testing
