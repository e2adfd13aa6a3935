#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http_client.h"
#include "common/child_process.h"
#include "integration/ha/sql_client.h"
#include "integration/support/test_env.h"

namespace keel::hatest {

// One member of a KeelCluster: its ports, files and agent process.
struct KeelNode {
  std::string name;
  std::uint16_t pg_port = 0;
  std::uint16_t api_port = 0;
  std::uint16_t etcd_client = 0;
  std::uint16_t etcd_peer = 0;
  std::uint16_t proxy_rw = 0;
  std::uint16_t proxy_ro = 0;
  std::string data_dir;
  std::string config_path;
  std::string log_path;
  ChildProcess agent;
};

// A Keel cluster of `members` agents on loopback, each with an embedded etcd member, in a temp
// directory. Agents run as children of the constructing thread (SIGKILL as parent-death signal,
// each in its own process group), so construct and destroy it on the test's main thread. The
// destructor stops everything it started, including PostgreSQL and etcd processes whose
// working directory or arguments point into the temp directory, and removes the directory.
//
// Threading: writablePrimaries(), sql helpers and the HTTP helpers only read immutable node
// data and may run on other threads; everything that touches agent processes is main-thread.
class KeelCluster {
 public:
  static constexpr const char* kSuperuserPassword = "keel-test-su";
  // Each member's proxy pools at most this many server connections per database and user.
  static constexpr int kProxyPoolSize = 5;
  // A role the proxy authenticates by client certificate (tls/certuser.crt), and the password
  // the proxy then uses towards PostgreSQL; the test creating the role must use it.
  static constexpr const char* kCertUser = "certuser";
  static constexpr const char* kCertUserPassword = "keel-test-cert";

  explicit KeelCluster(std::string scope, int members = 3);
  ~KeelCluster();
  KeelCluster(const KeelCluster&) = delete;
  KeelCluster& operator=(const KeelCluster&) = delete;

  // Before start(): the proxies' pool_mode and default_pool_size (session and kProxyPoolSize
  // unless set).
  void setProxyPooling(std::string pool_mode, int pool_size) {
    pool_mode_ = std::move(pool_mode);
    pool_size_ = pool_size;
  }
  // Before start(): the proxies' max_client_conn (Keel's default unless set).
  void setProxyMaxClients(int max_client_conn) { max_client_conn_ = max_client_conn; }

  // Writes the configs and starts every agent. False with `error()` set when a spawn failed.
  bool start();
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& scope() const { return scope_; }
  std::vector<std::string> names() const;
  const KeelNode& node(const std::string& name) const;

  // Waits until /cluster shows one running leader and every other member streaming, except
  // `down` (a member deliberately left stopped) when given.
  // On timeout returns false and describes the last /cluster seen in `why`.
  bool waitHealthy(std::chrono::milliseconds timeout, std::string* why = nullptr,
                   const std::string& down = "");
  // GET /cluster from the first member that answers 200 (`prefer` first when given).
  std::optional<nlohmann::json> cluster(const std::string& prefer = "") const;
  // Name of the member /cluster shows as leader, "" when none.
  std::string leader() const;
  // An HTTP request to `name`'s REST API.
  Result<api::ClientResponse, api::ClientErrc> api(
      const std::string& name, const std::string& method, const std::string& path,
      nlohmann::json body = nullptr,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // libpq conninfo for one member, or for all members with target_session_attrs=read-write.
  std::string conninfo(const std::string& name, int connect_timeout_s = 3) const;
  std::string readWriteConninfo(int connect_timeout_s = 3) const;
  SqlResult exec(const std::string& name, const std::string& sql) const;
  SqlResult execConninfo(const std::string& conninfo, const std::string& sql) const;
  // Members whose PostgreSQL accepts a new connection and is not in recovery.
  int writablePrimaries(std::vector<std::string>* which = nullptr) const;

  // Processes. 0 when not found / not running.
  pid_t agentPid(const std::string& name) const;
  bool agentRunning(const std::string& name);
  pid_t postmasterPid(const std::string& name) const;
  pid_t etcdPid(const std::string& name) const;
  bool killAgent(const std::string& name, int sig);
  bool killPostmaster(const std::string& name, int sig) const;
  // Waits (up to `timeout`) for a SIGKILLed/SIGTERMed agent to be reaped, then spawns it again.
  bool restartAgent(const std::string& name);
  // Restarts every agent that has exited.
  void restartDeadAgents();

  // The last `lines` lines of every member's log, for failure messages.
  std::string logTails(int lines = 30) const;
  std::string keelBinary() const;

  // The proxy: its userlist, the directory of its CA and certificates (ca.crt, server.crt,
  // certuser.crt/.key for cert authentication), and a libpq conninfo for `name`'s RW or RO port
  // as the superuser (`extra` appended, overriding earlier keys such as sslmode).
  std::string userlistPath() const;
  std::string tlsDir() const;
  std::string proxyConninfo(const std::string& name, bool read_only,
                            const std::string& extra = "") const;

 private:
  KeelNode& mutableNode(const std::string& name);
  void writeConfig(const KeelNode& n) const;
  bool spawn(KeelNode& n);
  void stopAll();
  void killLeftovers() const;

  testsupport::TempDir dir_{"keel-ha"};
  std::string scope_;
  std::vector<std::unique_ptr<KeelNode>> nodes_;
  std::string error_;
  std::string pool_mode_ = "session";
  int pool_size_ = kProxyPoolSize;
  int max_client_conn_ = 0;  // 0: not written
};

// True while `pid` exists and is not a zombie.
bool processAlive(pid_t pid);

// Summary "n1=leader/running n2=replica/streaming ..." of a /cluster document.
std::string describeCluster(const nlohmann::json& cluster);

}  // namespace keel::hatest
