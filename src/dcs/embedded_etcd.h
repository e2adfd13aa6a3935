#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/child_process.h"
#include "common/result.h"
#include "config/config.h"

namespace keel::dcs {

// etcd's command line for one embedded member: client and peer URLs from `config`, the cluster
// from config.initial_cluster (this member alone when empty), token "keel-<scope>" unless set.
// Fails (spawn_failed) when the config cannot describe a member (no name or data_dir).
Result<std::vector<std::string>, ProcessErrc> embeddedEtcdArguments(
    const EmbeddedEtcdConfig& config, const std::string& scope);

// Where the member's output goes: next to its data directory, "<data_dir>.log" (the default
// data_dir <data_dir>/etcd logs to <data_dir>/etcd.log).
std::string embeddedEtcdLogPath(const EmbeddedEtcdConfig& config);

// Runs Debian's etcd as a child of the agent and keeps it running.
//
// start() spawns etcd (SIGTERM as parent-death signal, so it never outlives the agent) and a
// supervisor coroutine on `ex` that checks the child every 200 ms and restarts it when it dies,
// after 0.5 s doubling up to 10 s (reset once a run lasted 30 s), logging the exit status and
// the tail of the log. It also probes GET /health once a second; healthy() is the last answer
// (running and etcd reports health; false while the cluster has no leader).
//
// Threads: the child's parent-death signal follows the thread that forked it, so call start()
// from a long-lived thread and give an executor whose thread lives as long as the agent (the
// control-plane io_context). stop() blocks up to ~15 s; call it at shutdown. Other methods may
// be called from any thread.
class EmbeddedEtcd {
 public:
  EmbeddedEtcd(const EmbeddedEtcdConfig& config, std::string scope,
               boost::asio::any_io_executor ex);
  ~EmbeddedEtcd();  // stop()
  EmbeddedEtcd(const EmbeddedEtcd&) = delete;
  EmbeddedEtcd& operator=(const EmbeddedEtcd&) = delete;

  Result<void, ProcessErrc> start();
  // SIGTERM, wait up to 10 s, then SIGKILL. The supervisor stops restarting it.
  void stop();

  bool healthy() const;
  std::string clientUrl() const;  // "http://<listen_client>"
  std::string logPath() const;
  pid_t pid() const;  // the running etcd's pid, -1 when none

 private:
  struct State;
  // Runs on the executor until stop() or a later start() changes the generation.
  static boost::asio::awaitable<void> supervise(std::shared_ptr<State> s, std::uint64_t gen);

  std::shared_ptr<State> state_;
};

}  // namespace keel::dcs
