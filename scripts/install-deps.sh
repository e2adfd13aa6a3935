#!/usr/bin/env bash
# Installs, as root, every Debian package Keel needs to build, test, demo and benchmark.
# Idempotent: packages already present are left alone, and apt is not touched when none is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  libboost1.81-dev libpq-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  libssl-dev libgtest-dev libgmock-dev
  postgresql-15 postgresql-client-15 postgresql-contrib
  etcd-server etcd-client
  iproute2 procps
  clang-14 libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes: make fuzz (fuzz/)
  python3-psycopg  # the multi-host fault harness (tests/hosts/)
  postgresql-server-dev-15  # headers for keel_fence.so (src/pgext/)
)
if [ "${KEEL_BENCH:-0}" = 1 ]; then
  packages+=(patroni python3-etcd python3-dnspython python3-etcd3 python3-psycopg2)
  packages+=(pgbouncer haproxy)  # bench/proxy
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or with sudo) to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's etcd-server package starts a system etcd on 2379/2380; Keel runs its own.
if systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
fi
# pgbouncer's and haproxy's packages start system services (pgbouncer on 6432, Keel's proxy
# port); bench/proxy runs its own instances.
for unit in pgbouncer haproxy; do
  if systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done
# Debian's postgresql package may start a cluster on 5432; Keel's tests pick their own ports.
