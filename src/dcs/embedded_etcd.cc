#include "dcs/embedded_etcd.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "common/async.h"
#include "dcs/http_exchange.h"

namespace keel::dcs {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kPollInterval{200};
constexpr milliseconds kHealthInterval{1000};
constexpr milliseconds kHealthTimeout{500};
constexpr milliseconds kFirstBackoff{500};
constexpr milliseconds kMaxBackoff{10000};
constexpr std::chrono::seconds kStableRun{30};
constexpr std::chrono::seconds kStopGrace{10};

// HostPort::str() lives in keel_config, which keel_dcs does not link.
std::string hostPort(const HostPort& hp) {
  std::string host = hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host;
  return host + ":" + std::to_string(hp.port);
}

std::string stripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

std::string logTail(const std::string& path, std::size_t lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "(no log at " + path + ")";
  }
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - 8192);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t pos = text.size();
  while (pos > 0 && (text[pos - 1] == '\n'))
    --pos;
  for (std::size_t n = 0; pos > 0 && n < lines; ++n) {
    auto nl = text.rfind('\n', pos - 1);
    pos = nl == std::string::npos ? 0 : nl;
  }
  return text.substr(pos);
}

}  // namespace

Result<std::vector<std::string>, ProcessErrc> embeddedEtcdArguments(
    const EmbeddedEtcdConfig& config, const std::string& scope) {
  if (config.name.empty()) {
    return fail(ProcessErrc::spawn_failed,
                "etcd.embedded.name is empty; set it (it defaults to the member name)");
  }
  if (config.data_dir.empty()) {
    return fail(ProcessErrc::spawn_failed, "etcd.embedded.data_dir is empty; set it");
  }
  const std::string client_url = "http://" + hostPort(config.listen_client);
  const std::string peer_url = "http://" + hostPort(config.listen_peer);
  std::string advertise_peer = peer_url;
  std::string cluster;
  if (config.initial_cluster.empty()) {
    cluster = config.name + "=" + peer_url;
  } else {
    auto self = config.initial_cluster.find(config.name);
    if (self == config.initial_cluster.end()) {
      return fail(ProcessErrc::spawn_failed,
                  "etcd.embedded.initial_cluster does not list this member ('" + config.name +
                      "'); add " + config.name + ": " + peer_url);
    }
    advertise_peer = self->second;
    for (const auto& [name, url] : config.initial_cluster) {
      cluster += (cluster.empty() ? "" : ",") + name + "=" + url;
    }
  }
  const std::string token =
      config.initial_cluster_token.empty() ? "keel-" + scope : config.initial_cluster_token;
  return std::vector<std::string>{
      config.bin,
      "--name=" + config.name,
      "--data-dir=" + config.data_dir,
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + advertise_peer,
      "--initial-cluster=" + cluster,
      "--initial-cluster-token=" + token,
      // Ignored once the data directory holds a member: restarts rejoin from the WAL.
      "--initial-cluster-state=new",
      "--heartbeat-interval=" + std::to_string(config.heartbeat_interval.count()),
      "--election-timeout=" + std::to_string(config.election_timeout.count()),
      // A rejoining member must not disrupt a healthy leader with a higher term.
      "--pre-vote=true",
      // Keel's keys are small and few; keep history and the backend bounded.
      "--auto-compaction-mode=periodic",
      "--auto-compaction-retention=1h",
      "--quota-backend-bytes=536870912",
      "--snapshot-count=10000",
      "--logger=zap",
      "--log-outputs=stderr",
      "--log-level=warn",
  };
}

std::string embeddedEtcdLogPath(const EmbeddedEtcdConfig& config) {
  return stripTrailingSlashes(config.data_dir) + ".log";
}

struct EmbeddedEtcd::State {
  EmbeddedEtcdConfig config;
  std::string scope;
  asio::any_io_executor ex;
  std::string client_url;
  std::string log_path;

  mutable std::mutex mu;
  ChildProcess child;            // guarded by mu
  bool stopping = true;          // guarded by mu
  std::uint64_t generation = 0;  // guarded by mu; a supervisor exits when it changes
  Clock::time_point started_at;  // guarded by mu
  std::atomic<bool> healthy{false};
  std::atomic<pid_t> pid{-1};

  // Precondition: mu held.
  Result<void, ProcessErrc> spawnLocked() {
    auto argv = embeddedEtcdArguments(config, scope);
    if (!argv) {
      return argv.failure();
    }
    std::error_code ec;
    auto parent = std::filesystem::path(stripTrailingSlashes(config.data_dir)).parent_path();
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return fail(ProcessErrc::spawn_failed, "cannot create " + parent.string() +
                                                   " for the etcd data directory: " + ec.message());
      }
    }
    SpawnOptions options;
    options.argv = std::move(*argv);
    options.output_path = log_path;
    options.parent_death_signal = SIGTERM;
    // Its own process group: a signal to the agent's group (Ctrl-C, a service manager) must not
    // stop etcd before the agent has released its lease through it. The agent stops it last.
    options.new_process_group = true;
    auto spawned = ChildProcess::spawn(options);
    if (!spawned) {
      return fail(ProcessErrc::spawn_failed,
                  "cannot start embedded etcd (" + config.bin + "): " + spawned.message());
    }
    child = std::move(*spawned);
    started_at = Clock::now();
    pid = child.pid();
    spdlog::info("embedded etcd '{}' started (pid {}), client {}, log {}", config.name, child.pid(),
                 client_url, log_path);
    return {};
  }
};

namespace {

asio::awaitable<bool> probeHealth(asio::any_io_executor ex, std::string url) {
  auto endpoint = http::parseEndpoint(url);
  auto reply = co_await http::exchange(ex, endpoint, "/health", "", kHealthTimeout, true);
  co_return reply.ok() && reply->status == 200 &&
      reply->body.find("\"health\":\"true\"") != std::string::npos;
}

}  // namespace

EmbeddedEtcd::EmbeddedEtcd(const EmbeddedEtcdConfig& config, std::string scope,
                           asio::any_io_executor ex)
    : state_(std::make_shared<State>()) {
  state_->config = config;
  state_->scope = std::move(scope);
  state_->ex = std::move(ex);
  state_->client_url = "http://" + hostPort(config.listen_client);
  state_->log_path = embeddedEtcdLogPath(config);
}

EmbeddedEtcd::~EmbeddedEtcd() {
  stop();
}

bool EmbeddedEtcd::healthy() const {
  return state_->healthy.load();
}
std::string EmbeddedEtcd::clientUrl() const {
  return state_->client_url;
}
std::string EmbeddedEtcd::logPath() const {
  return state_->log_path;
}
pid_t EmbeddedEtcd::pid() const {
  return state_->pid.load();
}

Result<void, ProcessErrc> EmbeddedEtcd::start() {
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->stopping) {
      return {};
    }
    auto spawned = state_->spawnLocked();
    if (!spawned) {
      return spawned;
    }
    state_->stopping = false;
    gen = ++state_->generation;
  }
  asio::co_spawn(state_->ex, supervise(state_, gen), asio::detached);
  return {};
}

void EmbeddedEtcd::stop() {
  ChildProcess child;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) {
      return;
    }
    state_->stopping = true;
    ++state_->generation;
    child = std::move(state_->child);
  }
  state_->healthy = false;
  state_->pid = -1;
  if (!child.running()) {
    return;
  }
  child.signal(SIGTERM);
  if (!child.waitFor(kStopGrace)) {
    spdlog::warn("embedded etcd '{}' did not stop within {} s of SIGTERM; killing it",
                 state_->config.name, kStopGrace.count());
    child.signal(SIGKILL);
    child.waitFor(std::chrono::seconds(5));
  }
}

asio::awaitable<void> EmbeddedEtcd::supervise(std::shared_ptr<State> s, std::uint64_t gen) {
  milliseconds backoff = kFirstBackoff;
  auto next_health = Clock::now();
  for (;;) {
    co_await sleepFor(kPollInterval);
    std::optional<int> status;
    Clock::time_point started_at;
    {
      std::lock_guard lock(s->mu);
      if (s->stopping || s->generation != gen) {
        co_return;
      }
      status = s->child.tryWait();
      started_at = s->started_at;
    }
    if (!status) {
      if (Clock::now() >= next_health) {
        next_health = Clock::now() + kHealthInterval;
        bool ok = co_await probeHealth(s->ex, s->client_url);
        s->healthy = ok;
      }
      continue;
    }
    s->healthy = false;
    s->pid = -1;
    if (Clock::now() - started_at >= kStableRun) {
      backoff = kFirstBackoff;
    }
    spdlog::warn("embedded etcd '{}' {}; restarting it in {} ms. Last lines of {}:\n{}",
                 s->config.name, describeWaitStatus(*status), backoff.count(), s->log_path,
                 logTail(s->log_path, 10));
    co_await sleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    std::lock_guard lock(s->mu);
    if (s->stopping || s->generation != gen) {
      co_return;
    }
    auto spawned = s->spawnLocked();
    if (!spawned) {
      spdlog::error("embedded etcd '{}': {}", s->config.name, spawned.message());
    }
  }
}

}  // namespace keel::dcs
