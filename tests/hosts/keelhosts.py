"""Keel hosts on one machine: each host is a network namespace with its own address in
198.18.0.0/24, joined to the others by a veth pair on a bridge this module creates, and runs a
Keel agent (which runs its embedded etcd member and PostgreSQL). Faults act on processes and on
the network; teardown removes every namespace, link and process, also after a failure.

Needs root (namespaces, links, routes) and Debian's iproute2. The kernel here has no netem, no
tc actions and no iptables, so network faults are built from what it has: a link cut is a
blackhole route on both ends, an isolated host has its interface down, and a degraded link is a
token-bucket filter (tbf) at a low rate, which adds queueing delay and drops what overflows.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                                "lib"))
from keelbench import children, pid_alive  # noqa: E402

SUBNET = "198.18.0"
BRIDGE_ADDRESS = f"{SUBNET}.1"
PG_PORT = 5432
API_PORT = 8008
PROXY_RW_PORT = 6432
PROXY_RO_PORT = 6433
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380


class HarnessError(Exception):
    pass


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise HarnessError(f"ip {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class Network:
    """A bridge in the root namespace (198.18.0.1) and one namespace per host (198.18.0.11...).
    Names carry a random tag, so two harnesses never collide and leftovers are recognizable."""

    def __init__(self, hosts):
        self.tag = secrets.token_hex(2)
        self.bridge = f"kb{self.tag}"
        self.hosts = hosts
        self.created = []  # namespaces made so far, for teardown

    def namespace(self, i):
        return f"keel{self.tag}h{i}"

    def address(self, i):
        return f"{SUBNET}.{11 + i}"

    def create(self):
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i in range(self.hosts):
            ns = self.namespace(i)
            ip("netns", "add", ns)
            self.created.append(ns)
            outer = f"k{self.tag}v{i}"
            ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", outer, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def destroy(self):
        for ns in self.created:
            ip("netns", "del", ns, check=False)  # removes its end of the veth pair, and so both
        self.created = []
        ip("link", "del", self.bridge, check=False)

    # --- network faults, each with its repair ---

    def isolate(self, i):
        ip("-n", self.namespace(i), "link", "set", "eth0", "down")

    def rejoin(self, i):
        ip("-n", self.namespace(i), "link", "set", "eth0", "up")

    def cut(self, i, j):
        ip("-n", self.namespace(i), "route", "add", "blackhole", f"{self.address(j)}/32")
        ip("-n", self.namespace(j), "route", "add", "blackhole", f"{self.address(i)}/32")

    def mend(self, i, j):
        ip("-n", self.namespace(i), "route", "del", "blackhole", f"{self.address(j)}/32",
           check=False)
        ip("-n", self.namespace(j), "route", "del", "blackhole", f"{self.address(i)}/32",
           check=False)

    def degrade(self, i):
        ip("-n", self.namespace(i), "link", "set", "eth0", "up")
        subprocess.run(["ip", "netns", "exec", self.namespace(i), "tc", "qdisc", "replace", "dev",
                        "eth0", "root", "tbf", "rate", "256kbit", "burst", "16kb", "latency",
                        "300ms"], check=True, capture_output=True)

    def restore(self, i):
        subprocess.run(["ip", "netns", "exec", self.namespace(i), "tc", "qdisc", "del", "dev",
                        "eth0", "root"], capture_output=True)


class Host:
    """One Keel agent in its namespace."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = f"h{i}"
        self.address = cluster.net.address(i)
        self.dir = os.path.join(cluster.work, self.name)
        self.data_dir = os.path.join(self.dir, "data")
        # PostgreSQL's data directory; on its own size-limited tmpfs (`volume`) when the cluster
        # has a wal_volume_mb, so that a fault can fill it.
        self.volume = os.path.join(self.dir, "pgvol")
        self.pgdata = os.path.join(self.volume, "pgdata")
        self.mounted = False
        self.config = os.path.join(self.dir, "keel.yaml")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)

    def write_config(self):
        c = self.cluster
        net = c.net
        lines = [
            "scope: chaos", f"name: {self.name}", f"data_dir: {self.data_dir}",
            "postgresql:", f"  listen: {self.address}:{PG_PORT}", f"  data_dir: {self.pgdata}",
            "  parameters:", "    max_connections: 100", "    shared_buffers: 64MB",
            # WAL stays well inside a wal_volume_mb volume (checkpoints keep it near these).
            "    max_wal_size: 96MB", "    min_wal_size: 32MB", "    wal_keep_size: 64MB",
            "  pg_hba:", f"    - host all all {SUBNET}.0/24 scram-sha-256",
            "  authentication:",
            f"    superuser: {{username: postgres, password: {c.password}}}",
            f"    replication: {{username: replicator, password: {c.repl_password}}}",
            "etcd:", "  embedded:", f"    listen_client: {self.address}:{ETCD_CLIENT_PORT}",
            f"    listen_peer: {self.address}:{ETCD_PEER_PORT}", "    initial_cluster:",
        ]
        lines += [f"      h{j}: http://{net.address(j)}:{ETCD_PEER_PORT}"
                  for j in range(net.hosts)]
        lines += ["    client_urls:"]
        lines += [f"      h{j}: http://{net.address(j)}:{ETCD_CLIENT_PORT}"
                  for j in range(net.hosts)]
        lines += [
            "ha:", f"  synchronous_mode: {c.sync}",
            "restapi:", f"  listen: {self.address}:{API_PORT}",
            "proxy:", f"  listen_rw: {self.address}:{PROXY_RW_PORT}",
            f"  listen_ro: {self.address}:{PROXY_RO_PORT}", f"  auth_file: {c.userlist}",
            "  hba:", f"    - host all all {SUBNET}.0/24 scram-sha-256",
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.config, 0o600)

    def mount_volume(self, size_mb):
        import pwd
        pw = pwd.getpwnam("postgres")
        os.makedirs(self.volume, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size={size_mb}m,mode=0755,uid={pw.pw_uid},gid={pw.pw_gid}",
                        "keel-chaos", self.volume], check=True)
        self.mounted = True

    def unmount_volume(self):
        if self.mounted:
            # PostgreSQL's log lives on the volume: keep it with the rest of the host's files.
            for name in os.listdir(self.volume):
                if name.endswith(".log"):
                    shutil.copy(os.path.join(self.volume, name), self.dir)
            subprocess.run(["umount", "-l", self.volume], check=False)
            self.mounted = False

    def fill_volume(self):
        """Takes every free byte of the volume (as postgres, so no root reserve is left)."""
        path = os.path.join(self.volume, "chaos-filler")
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        # In steps: tmpfs undoes a whole fallocate that does not fit, and PostgreSQL writes on.
        size = 0
        try:
            for step in (1 << 24, 1 << 20, 1 << 16, 1 << 12):
                while True:
                    try:
                        os.posix_fallocate(fd, size, step)
                    except OSError:
                        break
                    size += step
        finally:
            os.close(fd)
        return path

    def start(self):
        self.write_config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.cluster.net.namespace(self.i), self.cluster.keel,
             "agent", "-c", self.config], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()

    def agent_pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.pgdata, "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def etcd_pid(self):
        agent = self.agent_pid()
        if not agent:
            return None
        return next((pid for pid in children(agent) if comm(pid) == "etcd"), None)

    def api(self, path, timeout=1.0, method="GET", body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://{self.address}:{API_PORT}{path}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except Exception:  # noqa: BLE001 - any failure means "no answer"
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for pid in (self.postmaster_pid(), self.etcd_pid()):
                if pid:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
            os.killpg(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # What the agent leaves behind if it died by SIGKILL.
        for pid in (self.postmaster_pid(),):
            if pid:
                os.kill(pid, signal.SIGKILL)


class Cluster:
    """N hosts on one Network, all running Keel."""

    def __init__(self, keel, work, hosts=3, sync="off", wal_volume_mb=0):
        self.keel = os.path.abspath(keel)
        self.sync = sync  # ha.synchronous_mode: off, on or quorum
        self.wal_volume_mb = wal_volume_mb  # > 0: each PostgreSQL on a tmpfs of this size
        self.work = work
        self.password = secrets.token_hex(12)
        self.repl_password = secrets.token_hex(12)
        self.userlist = os.path.join(work, "userlist.txt")
        self.net = Network(hosts)
        self.hosts = []

    def start(self, timeout=180):
        with open(self.userlist, "w") as f:
            f.write(f'"postgres" "{self.password}"\n')
        os.chmod(self.userlist, 0o600)
        self.net.create()
        self.hosts = [Host(self, i) for i in range(self.net.hosts)]
        for h in self.hosts:
            if self.wal_volume_mb > 0:
                h.mount_volume(self.wal_volume_mb)
            h.start()
        why = self.wait_healthy(timeout)
        if why:
            raise HarnessError(f"the cluster did not become healthy within {timeout} s: {why}")

    def destroy(self):
        for h in self.hosts:
            try:
                h.stop()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
            h.unmount_volume()
        self.net.destroy()

    def views(self):
        """(host name, /cluster document) of every host whose REST API answers."""
        out = []
        for h in self.hosts:
            doc = h.api("/cluster")
            if doc:
                out.append((h.name, doc))
        return out

    @staticmethod
    def leader_in(doc):
        leaders = [m.get("name") for m in doc.get("members", []) if m.get("role") == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def health(self):
        """None when one leader runs and every other member streams from it, else why not.

        Every host that answers must say so, and a majority must answer: an agent that was just
        resumed (SIGCONT) serves the view it had before it froze until its next cycle, so one
        host's word is not enough."""
        views = self.views()
        if len(views) * 2 <= len(self.hosts):
            return f"only {len(views)} of {len(self.hosts)} REST APIs answer"
        for name, doc in views:
            members = doc.get("members", [])
            leaders = [m for m in members if m.get("role") == "leader"]
            if len(leaders) != 1 or leaders[0].get("state") != "running":
                return f"{name} sees no running leader ({[(m.get('name'), m.get('role'), m.get('state')) for m in members]})"
            if len(members) < len(self.hosts):
                return f"{name} sees {len(members)} of {len(self.hosts)} members registered"
            lagging = [m.get("name") for m in members
                       if m.get("role") != "leader" and m.get("state") != "streaming"]
            if lagging:
                return f"{name} sees not streaming: {', '.join(lagging)}"
            if self.sync != "off" and not any(
                    m.get("role") in ("sync_standby", "quorum_standby") for m in members):
                return f"{name} sees no synchronous standby named yet"
        seen = {name: self.leader_in(doc) for name, doc in views}
        if len(set(seen.values())) != 1:
            return f"the hosts disagree on the leader: {seen}"
        return None

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        why = None
        while time.monotonic() < deadline:
            why = self.health()
            if why is None:
                return None
            time.sleep(0.5)
        return why

    def enable_failsafe(self, timeout=30):
        """failsafe_mode on in the dynamic configuration; returns once every host sees all the
        hosts in the failsafe key."""
        leader = self.leader()
        if not leader or leader.api("/config", method="PATCH", body={"failsafe_mode": True}) is None:
            raise HarnessError("cannot turn failsafe_mode on through the leader's REST API")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Every host must have read the mode and the key (one that has not refuses to
            # confirm the primary).
            lists = [h.api("/failsafe") for h in self.hosts]
            if all(isinstance(x, dict) and len(x) == len(self.hosts) for x in lists):
                return
            time.sleep(0.5)
        raise HarnessError(f"the leader did not list every host in the failsafe key within {timeout} s")

    def leader(self):
        """The host a majority of the answering hosts name as leader (None without one)."""
        views = self.views()
        named = [self.leader_in(doc) for _, doc in views]
        for name in set(n for n in named if n):
            if named.count(name) * 2 > len(views):
                return next((x for x in self.hosts if x.name == name), None)
        return None

    def local_dsn(self, host, dbname="postgres"):
        """The host's PostgreSQL through its Unix socket (trusted locally; root may enter)."""
        run = os.path.join(os.path.dirname(host.pgdata), "run")
        return f"host={run} port={PG_PORT} dbname={dbname} user=postgres"

    def dsn(self, host, port=PG_PORT, dbname="postgres"):
        return (f"host={host.address} port={port} dbname={dbname} user=postgres "
                f"password={self.password} connect_timeout=2 sslmode=disable")


def remove_work(work):
    shutil.rmtree(work, ignore_errors=True)
