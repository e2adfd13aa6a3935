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
  # the transaction-pooling compatibility suite (tests/compat/)
  python3-asyncpg libpostgresql-jdbc-java openjdk-17-jdk-headless
)
# Node.js from Debian, unless a node and npm are already installed some other way (a nodejs
# package from another repository ships its own npm and conflicts with Debian's).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
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

# The npm package the compatibility suite's node-postgres client needs, pinned by
# tests/compat/package-lock.json, installed into tests/compat/node_modules (not committed).
install_node_modules() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/compat"
  if [ -d "$dir/node_modules/pg" ]; then
    return 0
  fi
  echo "install-deps: installing npm packages for tests/compat"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
}

if [ ${#missing[@]} -eq 0 ]; then
  install_node_modules
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
install_node_modules
