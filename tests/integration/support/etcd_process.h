#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/child_process.h"
#include "integration/support/test_env.h"

namespace keel::testsupport {

// A single-member etcd (/usr/bin/etcd) for integration tests: free loopback ports, data in a
// temp dir, output in <dir>/etcd.log. The constructor waits (up to 20 s) until a v3 range
// request succeeds; check ok() and error() (which includes the log tail). The destructor kills
// etcd with SIGKILL and removes the directory. etcd gets SIGKILL as parent-death signal, so
// construct it on a thread that outlives it (the test's main thread).
class EtcdProcess {
 public:
  EtcdProcess();
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string clientUrl() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  std::uint16_t clientPort() const { return client_port_; }
  pid_t pid() const { return child_.pid(); }
  const std::string& logPath() const { return log_path_; }

  // Sends `sig` to etcd (e.g. SIGSTOP to simulate a hung server, SIGCONT to resume).
  bool signal(int sig) const { return child_.signal(sig); }

 private:
  TempDir dir_{"keel-etcd"};
  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::string log_path_;
  ChildProcess child_;
  std::string error_;
};

// True when a v3 range request to `client_url` answers 200 within `timeout`.
bool etcdAnswers(const std::string& client_url, std::chrono::milliseconds timeout);

}  // namespace keel::testsupport
