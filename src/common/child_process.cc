#include "common/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace keel {
namespace {

struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

Result<Identity, ProcessErrc> resolveIdentity(const std::string& run_as) {
  Identity id;
  if (run_as.empty() || geteuid() != 0) {
    return id;
  }
  struct passwd pwd {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(run_as.c_str(), &pwd, buf.data(), buf.size(), &found) != 0 || !found) {
    return fail(ProcessErrc::user_not_found,
                "user '" + run_as + "' does not exist; create it (useradd --system " + run_as +
                    ") or set postgresql.run_as to an existing unprivileged user");
  }
  id.switch_user = true;
  id.uid = pwd.pw_uid;
  id.gid = pwd.pw_gid;
  id.home = pwd.pw_dir ? pwd.pw_dir : "/";
  return id;
}

// Builds "KEY=VALUE" strings: the current environment with the overrides applied.
std::vector<std::string> buildEnvironment(const std::map<std::string, std::string>& overrides,
                                          const Identity& id) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  if (id.switch_user) {
    env["HOME"] = id.home;
  }
  for (const auto& [k, v] : overrides) {
    env[k] = v;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  p.reserve(strings.size() + 1);
  for (auto& s : strings) {
    p.push_back(s.data());
  }
  p.push_back(nullptr);
  return p;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void execChild(const SpawnOptions& o, const Identity& id, pid_t parent, int out_fd,
                            char* const* argv, char* const* envp) {
  if (o.new_process_group) {
    setpgid(0, 0);
  }
  if (out_fd >= 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    if (out_fd > STDERR_FILENO) {
      close(out_fd);
    }
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    if (devnull > STDERR_FILENO)
      close(devnull);
  }
  // Nothing else of the agent's: its listening sockets (REST API, proxy ports) and client
  // connections would otherwise live on in PostgreSQL or etcd, and an agent restarted after
  // a crash could not listen again while they run ("address already in use").
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    struct rlimit lim {};
    int top = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                  ? static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 1 << 20))
                  : 65536;
    for (int fd = 3; fd < top; ++fd)
      close(fd);
  }
  if (id.switch_user) {
    if (setgroups(0, nullptr) != 0 || setgid(id.gid) != 0 || setuid(id.uid) != 0) {
      static const char msg[] = "keel: cannot switch to the unprivileged user\n";
      (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
      _exit(126);
    }
  }
  if (o.parent_death_signal != 0) {
    prctl(PR_SET_PDEATHSIG, o.parent_death_signal);
    if (getppid() != parent) {  // the parent died before the signal was armed
      _exit(125);
    }
  }
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) {
    _exit(124);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvpe(argv[0], argv, envp);
  static const char msg[] = "keel: exec failed\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(127);
}

Result<pid_t, ProcessErrc> forkExec(const SpawnOptions& o, int out_fd) {
  if (o.argv.empty()) {
    return fail(ProcessErrc::spawn_failed, "no command given");
  }
  auto id = resolveIdentity(o.run_as);
  if (!id) {
    return id.failure();
  }
  auto env_strings = buildEnvironment(o.env_overrides, *id);
  auto envp = pointers(env_strings);
  std::vector<std::string> argv_strings = o.argv;
  auto argv = pointers(argv_strings);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return fail(ProcessErrc::spawn_failed,
                "fork failed for " + o.argv[0] + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    execChild(o, *id, parent, out_fd, argv.data(), envp.data());
  }
  if (o.new_process_group) {
    setpgid(pid, pid);  // also set here so the group exists before the parent signals it
  }
  return pid;
}

}  // namespace

Result<ChildProcess, ProcessErrc> ChildProcess::spawn(const SpawnOptions& options) {
  int out_fd = -1;
  if (!options.output_path.empty()) {
    out_fd = open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out_fd < 0) {
      return fail(ProcessErrc::spawn_failed,
                  "cannot open log file " + options.output_path + ": " + std::strerror(errno));
    }
  }
  auto pid = forkExec(options, out_fd);
  if (out_fd >= 0) {
    close(out_fd);
  }
  if (!pid) {
    return pid.failure();
  }
  ChildProcess child;
  child.pid_ = *pid;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_status_(other.exit_status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_status_)
      tryWait();
    pid_ = other.pid_;
    exit_status_ = other.exit_status_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) {
    tryWait();
  }
}

bool ChildProcess::signal(int sig) const {
  return pid_ > 0 && !exit_status_ && ::kill(pid_, sig) == 0;
}

std::optional<int> ChildProcess::tryWait() {
  if (exit_status_ || pid_ <= 0) {
    return exit_status_;
  }
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
  } else if (r < 0 && errno == ECHILD) {
    exit_status_ = 0;  // reaped elsewhere; treat as exited
  }
  return exit_status_;
}

std::optional<int> ChildProcess::waitFor(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!tryWait()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_status_;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "ended with status " + std::to_string(status);
}

Result<CommandOutput, ProcessErrc> runCommand(SpawnOptions options,
                                              std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return fail(ProcessErrc::spawn_failed, std::string("pipe failed: ") + std::strerror(errno));
  }
  options.output_path.clear();
  options.new_process_group = true;
  auto pid = forkExec(options, fds[1]);
  close(fds[1]);
  if (!pid) {
    close(fds[0]);
    return pid.failure();
  }
  constexpr std::size_t kKeep = 64 * 1024;
  CommandOutput out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      continue;
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.output.append(buf, static_cast<std::size_t>(n));
    if (out.output.size() > 2 * kKeep) {
      out.output.erase(0, out.output.size() - kKeep);
    }
  }
  close(fds[0]);
  if (timed_out) {
    ::kill(-*pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out.output.size() > kKeep) {
    out.output.erase(0, out.output.size() - kKeep);
  }
  const std::string& cmd = options.argv[0];
  if (timed_out) {
    return fail(ProcessErrc::timed_out, cmd + " did not finish within " +
                                            std::to_string(timeout.count() / 1000) +
                                            " s and was killed; output: " + out.output);
  }
  if (WIFEXITED(status)) {
    out.exit_code = WEXITSTATUS(status);
    if (out.exit_code != 0) {
      return fail(ProcessErrc::exited_nonzero,
                  cmd + " " + describeWaitStatus(status) + ": " + out.output);
    }
    return out;
  }
  return fail(ProcessErrc::killed, cmd + " " + describeWaitStatus(status) + ": " + out.output);
}

}  // namespace keel
