#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace keel {

enum class ProcessErrc { spawn_failed, user_not_found, timed_out, exited_nonzero, killed };

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is an absolute path or found through PATH
  std::map<std::string, std::string> env_overrides;  // added to (or replacing in) the environment
  std::string cwd;                                   // empty: inherit
  std::string run_as;              // when running as root: user to switch to; ignored otherwise
  int parent_death_signal = 0;     // delivered to the child when the forking thread dies (0: none)
  std::string output_path;         // stdout+stderr appended here; empty: inherit
  bool new_process_group = false;  // so a signal to the group reaches the child's children
};

// A child process started with fork/exec. The parent-death signal is set after the switch to
// `run_as` (the kernel clears it on a uid change), and the child checks it did not miss the
// parent's death in between. Precondition: spawn from a thread that lives as long as the
// child should (PR_SET_PDEATHSIG follows the forking thread, not the process).
class ChildProcess {
 public:
  static Result<ChildProcess, ProcessErrc> spawn(const SpawnOptions& options);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Does not kill: a supervisor decides how its child stops. Reaps it if it already exited.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }
  bool signal(int sig) const;
  // Reaps the child if it has exited; returns its wait status (see waitpid) once it has.
  std::optional<int> tryWait();
  // Blocks until the child exits or `timeout` passes.
  std::optional<int> waitFor(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

struct CommandOutput {
  int exit_code = 0;
  std::string output;  // stdout and stderr interleaved, truncated to the last 64 KiB
};

// Runs a short-lived command to completion, capturing its output. Blocking: call it from a
// worker thread, never from the control-plane io_context. On timeout the child's process group
// is killed. A non-zero exit is a Failure(exited_nonzero) whose message holds the output tail.
Result<CommandOutput, ProcessErrc> runCommand(SpawnOptions options,
                                              std::chrono::milliseconds timeout);

// "exited with code 3", "killed by signal 9 (Killed)".
std::string describeWaitStatus(int status);

}  // namespace keel
