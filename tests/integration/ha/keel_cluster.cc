#include "integration/ha/keel_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "proxy/tls_generate.h"

#ifndef KEEL_BINARY
#error "KEEL_BINARY must name the keel executable"
#endif

namespace keel::hatest {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ProcInfo {
  pid_t pid = 0;
  std::string cmdline;  // arguments joined by spaces
  std::string cwd;
};

// A /proc file's contents, "" when it cannot be read. Plain read(2): the process may exit while
// it is read, and libstdc++'s ifstream then throws from underflow (ESRCH) whatever its
// exception mask.
std::string readProcFile(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<ProcInfo> listProcesses() {
  std::vector<ProcInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    ProcInfo p;
    p.pid = static_cast<pid_t>(std::stol(name));
    std::string raw = readProcFile((entry.path() / "cmdline").string());
    for (char& c : raw) {
      if (c == '\0') {
        c = ' ';
      }
    }
    p.cmdline = raw;
    std::error_code lec;
    p.cwd = fs::read_symlink(entry.path() / "cwd", lec).string();
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

bool processAlive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) {
    return false;
  }
  std::string stat = readProcFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

std::string describeCluster(const json& cluster) {
  std::string out;
  for (const auto& m : cluster.value("members", json::array())) {
    out += (out.empty() ? "" : " ") + m.value("name", "?") + "=" + m.value("role", "?") + "/" +
           m.value("state", "?") + "/tl" + std::to_string(m.value("timeline", 0));
  }
  return out.empty() ? "(no members)" : out;
}

KeelCluster::KeelCluster(std::string scope, int members) : scope_(std::move(scope)) {
  // PostgreSQL runs as `postgres` and must reach its data directory below ours.
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
  constexpr int kPortsPerNode = 6;
  auto ports = testsupport::freeLoopbackPorts(kPortsPerNode * members);
  for (int i = 0; i < members; ++i) {
    auto n = std::make_unique<KeelNode>();
    n->name = "n" + std::to_string(i + 1);
    n->pg_port = ports[kPortsPerNode * i];
    n->api_port = ports[kPortsPerNode * i + 1];
    n->etcd_client = ports[kPortsPerNode * i + 2];
    n->etcd_peer = ports[kPortsPerNode * i + 3];
    n->proxy_rw = ports[kPortsPerNode * i + 4];
    n->proxy_ro = ports[kPortsPerNode * i + 5];
    n->data_dir = dir_.sub(n->name);
    n->config_path = dir_.sub(n->name + ".yaml");
    n->log_path = dir_.sub(n->name + ".log");
    nodes_.push_back(std::move(n));
  }
}

KeelCluster::~KeelCluster() {
  stopAll();
  killLeftovers();
}

std::string KeelCluster::userlistPath() const {
  return dir_.sub("userlist.txt");
}

std::string KeelCluster::tlsDir() const {
  return dir_.sub("tls");
}

std::string KeelCluster::proxyConninfo(const std::string& name, bool read_only,
                                       const std::string& extra) const {
  const KeelNode& n = node(name);
  return "host=127.0.0.1 port=" + std::to_string(read_only ? n.proxy_ro : n.proxy_rw) +
         " dbname=postgres user=postgres password=" + kSuperuserPassword +
         " connect_timeout=5 sslmode=disable " + extra;
}

std::string KeelCluster::keelBinary() const {
  return KEEL_BINARY;
}

std::vector<std::string> KeelCluster::names() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) {
    out.push_back(n->name);
  }
  return out;
}

const KeelNode& KeelCluster::node(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (n->name == name) {
      return *n;
    }
  }
  throw std::invalid_argument("no member named '" + name + "'");
}

KeelNode& KeelCluster::mutableNode(const std::string& name) {
  return const_cast<KeelNode&>(node(name));
}

void KeelCluster::writeConfig(const KeelNode& n) const {
  std::ofstream f(n.config_path);
  f << "scope: " << scope_ << "\nname: " << n.name << "\ndata_dir: " << n.data_dir << "\n"
    << "postgresql:\n  listen: 127.0.0.1:" << n.pg_port << "\n"
    << "  parameters:\n    max_connections: 50\n    shared_buffers: 32MB\n"
    << "  pg_hba:\n    - host all all 127.0.0.1/32 scram-sha-256\n"
    << "  authentication:\n    superuser: {username: postgres, password: " << kSuperuserPassword
    << "}\n    replication: {username: replicator, password: keel-test-repl}\n"
    << "etcd:\n  embedded:\n    listen_client: 127.0.0.1:" << n.etcd_client
    << "\n    listen_peer: 127.0.0.1:" << n.etcd_peer << "\n    initial_cluster:\n";
  for (const auto& o : nodes_) {
    f << "      " << o->name << ": http://127.0.0.1:" << o->etcd_peer << "\n";
  }
  f << "    client_urls:\n";
  for (const auto& o : nodes_) {
    if (o->name != n.name) {
      f << "      " << o->name << ": http://127.0.0.1:" << o->etcd_client << "\n";
    }
  }
  f << "restapi:\n  listen: 127.0.0.1:" << n.api_port << "\n";
  f << "proxy:\n  listen_rw: 127.0.0.1:" << n.proxy_rw << "\n  listen_ro: 127.0.0.1:" << n.proxy_ro
    << "\n  auth_file: " << userlistPath() << "\n  auth_user: postgres\n  admin_users: [postgres]\n"
    << "  default_pool_size: " << pool_size_ << "\n  pool_mode: " << pool_mode_
    << "\n  query_wait_timeout: 3s\n"
    << (max_client_conn_ > 0 ? "  max_client_conn: " + std::to_string(max_client_conn_) + "\n"
                             : std::string())
    << "  max_lag_time: 1s\n  failover_hold_timeout: 20s\n"
    << "  hba:\n    - hostssl all " << kCertUser << " 127.0.0.1/32 cert\n"
    << "    - host all all 127.0.0.1/32 scram-sha-256\n"
    << "  client_tls:\n    sslmode: prefer\n    cert_file: " << tlsDir() << "/server.crt\n"
    << "    key_file: " << tlsDir() << "/server.key\n    ca_file: " << tlsDir() << "/ca.crt\n";
}

bool KeelCluster::spawn(KeelNode& n) {
  auto child = ChildProcess::spawn({.argv = {keelBinary(), "agent", "-c", n.config_path},
                                    .parent_death_signal = SIGKILL,
                                    .output_path = n.log_path,
                                    .new_process_group = true});
  if (!child) {
    error_ = "cannot start the agent of " + n.name + ": " + child.message();
    return false;
  }
  n.agent = std::move(*child);
  return true;
}

bool KeelCluster::start() {
  {
    std::ofstream users(userlistPath());
    users << "\"postgres\" \"" << kSuperuserPassword << "\"\n"
          << "\"" << kCertUser << "\" \"" << kCertUserPassword << "\"\n";
  }
  proxy::CertificateOptions certs;
  certs.clients = {kCertUser};
  if (auto written = proxy::generateCertificates(tlsDir(), certs); !written) {
    error_ = "cannot generate the proxy's certificates: " + written.message();
    return false;
  }
  for (const auto& n : nodes_) {
    writeConfig(*n);
  }
  for (auto& n : nodes_) {
    if (!spawn(*n)) {
      return false;
    }
  }
  return true;
}

std::optional<json> KeelCluster::cluster(const std::string& prefer) const {
  std::vector<std::string> order;
  if (!prefer.empty()) {
    order.push_back(prefer);
  }
  for (const auto& n : nodes_) {
    if (n->name != prefer) {
      order.push_back(n->name);
    }
  }
  for (const auto& name : order) {
    auto r = api(name, "GET", "/cluster", nullptr, std::chrono::seconds(2));
    if (r && r->status == 200) {
      if (auto j = r->json(); j && j->is_object()) {
        return j;
      }
    }
  }
  return std::nullopt;
}

std::string KeelCluster::leader() const {
  auto c = cluster();
  if (!c) {
    return "";
  }
  for (const auto& m : c->value("members", json::array())) {
    if (m.value("role", "") == "leader") {
      return m.value("name", "");
    }
  }
  return "";
}

bool KeelCluster::waitHealthy(std::chrono::milliseconds timeout, std::string* why,
                              const std::string& down) {
  auto deadline = Clock::now() + timeout;
  std::string last = "no member answered GET /cluster";
  for (;;) {
    if (auto c = cluster()) {
      std::size_t leaders = 0, streaming = 0;
      auto members = c->value("members", json::array());
      for (const auto& m : members) {
        if (m.value("name", "") == down) {
          continue;
        }
        if (m.value("role", "") == "leader" && m.value("state", "") == "running") {
          ++leaders;
        }
        std::string role = m.value("role", "");
        bool replica = role == "replica" || role == "sync_standby" || role == "quorum_standby";
        if (replica && m.value("state", "") == "streaming") {
          ++streaming;
        }
      }
      last = describeCluster(*c);
      std::size_t expected = nodes_.size() - (down.empty() ? 0 : 1);
      if (leaders == 1 && streaming + 1 == expected && members.size() >= expected) {
        return true;
      }
    }
    if (Clock::now() > deadline) {
      if (why) {
        *why = "cluster not healthy within " + std::to_string(timeout.count()) +
               " ms; last seen: " + last;
      }
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Result<api::ClientResponse, api::ClientErrc> KeelCluster::api(
    const std::string& name, const std::string& method, const std::string& path, json body,
    std::chrono::milliseconds timeout) const {
  api::HttpClient client(std::nullopt, timeout);
  return client.requestSync(
      method, "http://127.0.0.1:" + std::to_string(node(name).api_port) + path, std::move(body));
}

std::string KeelCluster::conninfo(const std::string& name, int connect_timeout_s) const {
  return "host=127.0.0.1 port=" + std::to_string(node(name).pg_port) +
         " user=postgres dbname=postgres password=" + kSuperuserPassword +
         " connect_timeout=" + std::to_string(connect_timeout_s);
}

std::string KeelCluster::readWriteConninfo(int connect_timeout_s) const {
  std::string hosts, ports;
  for (const auto& n : nodes_) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
    ports += (ports.empty() ? "" : ",") + std::to_string(n->pg_port);
  }
  return "host=" + hosts + " port=" + ports +
         " user=postgres dbname=postgres password=" + kSuperuserPassword +
         " connect_timeout=" + std::to_string(connect_timeout_s) +
         " target_session_attrs=read-write";
}

SqlResult KeelCluster::exec(const std::string& name, const std::string& sql) const {
  return execSql(conninfo(name), sql);
}

SqlResult KeelCluster::execConninfo(const std::string& conninfo, const std::string& sql) const {
  return execSql(conninfo, sql);
}

int KeelCluster::writablePrimaries(std::vector<std::string>* which) const {
  int count = 0;
  for (const auto& n : nodes_) {
    auto r = execSql(conninfo(n->name, 2), "SELECT NOT pg_is_in_recovery()");
    if (r.ok && r.scalar() == "t") {
      ++count;
      if (which) {
        which->push_back(n->name);
      }
    }
  }
  return count;
}

pid_t KeelCluster::agentPid(const std::string& name) const {
  const auto& n = node(name);
  return n.agent.running() ? n.agent.pid() : 0;
}

bool KeelCluster::agentRunning(const std::string& name) {
  auto& n = mutableNode(name);
  n.agent.tryWait();
  return n.agent.running();
}

pid_t KeelCluster::postmasterPid(const std::string& name) const {
  std::ifstream in(node(name).data_dir + "/pgdata/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

pid_t KeelCluster::etcdPid(const std::string& name) const {
  const std::string needle = "--data-dir=" + node(name).data_dir + "/";
  for (const auto& p : listProcesses()) {
    if (p.cmdline.find("etcd") != std::string::npos &&
        p.cmdline.find(needle) != std::string::npos) {
      return p.pid;
    }
  }
  return 0;
}

bool KeelCluster::killAgent(const std::string& name, int sig) {
  auto& n = mutableNode(name);
  return n.agent.running() && n.agent.signal(sig);
}

bool KeelCluster::killPostmaster(const std::string& name, int sig) const {
  pid_t pid = postmasterPid(name);
  return pid > 0 && kill(pid, sig) == 0;
}

bool KeelCluster::restartAgent(const std::string& name) {
  auto& n = mutableNode(name);
  if (n.agent.running() && !n.agent.waitFor(std::chrono::seconds(20))) {
    error_ = "the agent of " + name + " is still running; cannot restart it";
    return false;
  }
  return spawn(n);
}

void KeelCluster::restartDeadAgents() {
  for (auto& n : nodes_) {
    n->agent.tryWait();
    if (!n->agent.running()) {
      spawn(*n);
    }
  }
}

std::string KeelCluster::logTails(int lines) const {
  std::ostringstream out;
  for (const auto& n : nodes_) {
    out << "---- last lines of " << n->log_path << " ----\n"
        << testsupport::fileTail(n->log_path, lines);
  }
  return out.str();
}

void KeelCluster::stopAll() {
  for (auto& n : nodes_) {
    if (n->agent.running()) {
      n->agent.signal(SIGTERM);
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(20);
  for (auto& n : nodes_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (n->agent.running() && !n->agent.waitFor(std::max(left, std::chrono::milliseconds(1)))) {
      kill(-n->agent.pid(), SIGKILL);
      n->agent.signal(SIGKILL);
      n->agent.waitFor(std::chrono::seconds(5));
    }
  }
}

void KeelCluster::killLeftovers() const {
  const std::string root = dir_.path() + "/";
  for (int round = 0; round < 20; ++round) {
    bool any = false;
    for (const auto& p : listProcesses()) {
      if (p.pid == getpid()) {
        continue;
      }
      if ((p.cwd + "/").rfind(root, 0) == 0 || p.cmdline.find(root) != std::string::npos) {
        kill(p.pid, SIGKILL);
        any = true;
      }
    }
    if (!any) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace keel::hatest
