"""What Keel's bench scripts share: process bookkeeping and cleanup, ports, /proc readers, and
the work-directory and signal handling around a run.

Every process a bench starts goes through a Tracker, so that any exit path (failure, Ctrl-C,
SIGTERM, SIGHUP) stops it; PostgreSQL data directories registered with the Tracker have their
postmaster stopped too, since a postmaster may outlive the process that started it.
"""

import argparse
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"


def log(msg):
    print(msg, flush=True)


class BenchError(Exception):
    pass


def fail(msg):
    raise BenchError(msg)


# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup


class Tracker:
    """Everything the bench started, so that cleanup can stop it on any exit path."""

    def __init__(self):
        self.procs = []  # Popen objects, each leading its own session/process group
        self.pgdatas = []  # data directories whose postmaster must not survive us

    def spawn(self, argv, log_path, **kw):
        out = open(log_path, "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        out.close()
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                signal_group(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            signal_group(p.pid, signal.SIGKILL)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # Patroni detaches its postmaster on purpose, and a Keel postmaster outlives a killed
        # agent for a moment: stop every postmaster still running on one of our data dirs.
        for d in self.pgdatas:
            pid = postmaster_pid(d)
            if pid and pid_alive(pid) and (d in cmdline(pid) or proc_cwd(pid) == d):
                try:
                    os.kill(pid, signal.SIGQUIT)
                    for _ in range(50):
                        if not pid_alive(pid):
                            break
                        time.sleep(0.1)
                    if pid_alive(pid):
                        os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def proc_cwd(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out


def rss_kib(pid):
    """VmRSS of a process in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def rss_mb(pid):
    kib = rss_kib(pid)
    return kib / 1024.0 if kib is not None else None


def process_cpu_seconds(pid):
    """User + system CPU time of one process, in seconds, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendant_named(root, comm):
    """The pid of `root` or of its first descendant whose command name is `comm` (PgBouncer
    and HAProxy run under runuser and sh), or None."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append((int(entry), name))
    todo = [root]
    while todo:
        pid = todo.pop(0)
        for child, name in kids.get(pid, []):
            if name == comm:
                return child
            todo.append(child)
    try:
        with open(f"/proc/{root}/comm") as f:
            return root if f.read().strip() == comm else None
    except OSError:
        return None


def postmaster_pid(pgdata):
    try:
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (FileNotFoundError, ValueError, PermissionError):
        return None


# ---------------------------------------------------------------------------------------------
# Running as root: PostgreSQL (and PgBouncer) refuse to, so they run as `postgres`.


class RunAs:
    """Runs commands and owns files as `postgres` when the bench runs as root; a no-op otherwise."""

    def __init__(self, user="postgres"):
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam(user)
            self.user, self.uid, self.gid = user, pw.pw_uid, pw.pw_gid

    def argv(self, argv):
        return (["runuser", "-u", self.user, "--"] + argv) if self.as_root else argv

    def own(self, path):
        if self.as_root:
            os.chown(path, self.uid, self.gid)


# ---------------------------------------------------------------------------------------------
# Small utilities


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def check_ports(ports, what):
    busy = [p for p in ports if not port_free(p)]
    if busy:
        fail(f"{what}: ports {busy} on 127.0.0.1 are in use; stop whatever holds them "
             f"(an earlier bench run still running?) and retry")


def http_json(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read().decode())
    except Exception:
        return None


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join("    " + l for l in f.readlines()[-n:])
    except FileNotFoundError:
        return "    (no log)\n"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def cores():
    return len(os.sched_getaffinity(0))


def tcp_accepts(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_listening(name, proc, port, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    while not tcp_accepts(port):
        if proc.poll() is not None:
            fail(f"{name}: exited with status {proc.returncode}; last lines of {log_path}:\n"
                 f"{tail(log_path)}")
        if time.monotonic() > deadline:
            fail(f"{name}: not listening on 127.0.0.1:{port} after {timeout} s; see {log_path}")
        time.sleep(0.2)


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def with_open_files_raised(argv):
    """argv run with its soft open-files limit raised to the hard one. runuser's PAM session
    resets the soft limit to 1024, below what max_client_conn 1000 can need."""
    return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" && exec "$@"', argv[0]] + argv


def raise_open_files_limit():
    """Raises this process's soft open-files limit to its hard one (inherited by the processes
    it starts afterwards) and returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_list(text, allowed=None, conv=str):
    """An argparse type: a comma-separated list, deduplicated, each item in `allowed`."""
    items = [conv(x.strip()) for x in text.split(",") if x.strip()]
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {','.join(allowed)}")
    if not items:
        raise argparse.ArgumentTypeError("empty list")
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------
# A run: work directory, signals, cleanup


def run_in_work_dir(args, body, subdirs):
    """Calls body(work, tracker) and returns its exit status (1 on BenchError or interrupt).

    args.work_dir (optional, must be empty) and args.keep come from the command line. Whatever
    happens, every tracked process is stopped; then the work directory is removed unless
    --keep (or KEEL_BENCH_KEEP_ON_FAILURE on failure) asks to keep it. A work dir the user
    gave is kept itself, only the sub-directories this bench writes (`subdirs`) are removed.
    """
    created = False
    if args.work_dir:
        work = os.path.abspath(args.work_dir)
        if os.path.exists(work) and os.listdir(work):
            raise SystemExit(f"error: work dir {work} is not empty")
        created = not os.path.exists(work)
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="keel-bench-", dir="/var/tmp")
        created = True
    os.chmod(work, 0o755)  # postgres must traverse it

    tracker = Tracker()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    status = 1
    try:
        status = body(work, tracker)
    except BenchError as e:
        log(f"error: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        tracker.cleanup()
        if args.keep or status != 0 and os.environ.get("KEEL_BENCH_KEEP_ON_FAILURE"):
            log(f"work dir kept: {work}")
        elif created:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for sub in subdirs:
                shutil.rmtree(os.path.join(work, sub), ignore_errors=True)
    return status
