# Keel: `make demo` and `make test` work on a fresh Debian bookworm machine (as root, or with
# sudo for the package install).
BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
KEEL := $(BUILD)/src/keel
# The integration tests' clusters (PostgreSQL and etcd data) live on a tmpfs when there is one:
# their 2 s leases are about HA logic, and on a shared machine a burst of disk writeback (the
# sanitizer build just before them writes gigabytes) can hold etcd's fsync for seconds.
TEST_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)

.PHONY: all deps build test unit integration sanitize demo bench-failover bench-proxy bench-pooler \
	format format-check \
	chaos chaos-smoke \
	clean fuzz fuzz-smoke

all: build

deps:
	@$(SUDO) scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DKEEL_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Unit tests in parallel, then integration tests one at a time (each starts real PostgreSQL and
# etcd processes; two at once on two cores would only make both slower).
# Then a 60-second libFuzzer run of each parser target (fuzz-smoke), and a short chaos run
# (chaos-smoke).
test: build format-check
	@cd $(BUILD) && ctest -L unit -j$(JOBS) --output-on-failure --timeout 120
	@$(MAKE) --no-print-directory sanitize
	@cd $(BUILD) && TMPDIR=$(TEST_TMPDIR) ctest -L integration --output-on-failure --timeout 600
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory chaos-smoke

# The unit tests of the code that parses untrusted input (the wire protocol, SCRAM, config
# files, the transaction-pooling relay) and of the HA decision core, built with ASan and UBSan
# (the seeded split-brain simulation is left out: it takes minutes under ASan and parses
# nothing).
SANITIZE_BUILD ?= build-asan
SANITIZE_TESTS := pgwire/pgwire_test config/config_test ha/ha_decision_test common/common_test \
	proxy/proxy_tx_test
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DKEEL_SANITIZE=ON -DKEEL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS) --target $(notdir $(SANITIZE_TESTS))
	@for t in $(SANITIZE_TESTS); do \
	  echo "sanitize: $$t"; \
	  ASAN_OPTIONS=detect_leaks=1 $(SANITIZE_BUILD)/tests/unit/$$t --gtest_brief=1 || exit 1; \
	done

# libFuzzer targets for the input parsers (fuzz/, docs/reliability.md): a clang-14 build with
# ASan and UBSan in build-fuzz, then each target for SECONDS against a scratch copy of its seed
# corpus, one at a time; fails if any target crashes. fuzz-smoke: 60 s each, two at a time.
SECONDS ?= 60
fuzz: deps
	@fuzz/run.sh --seconds $(SECONDS) --jobs 1

fuzz-smoke: deps
	@fuzz/run.sh --seconds 60 --jobs 2

unit: build
	@cd $(BUILD) && ctest -L unit -j$(JOBS) --output-on-failure

integration: build
	@cd $(BUILD) && TMPDIR=$(TEST_TMPDIR) ctest -L integration --output-on-failure --timeout 600

demo: build
	@$(KEEL) demo

bench-failover: build
	@KEEL_BENCH=1 $(SUDO) scripts/install-deps.sh
	@bench/failover --keel $(KEEL)

bench-proxy: build
	@KEEL_BENCH=1 $(SUDO) scripts/install-deps.sh
	@bench/proxy --keel $(KEEL)

bench-pooler: build
	@KEEL_BENCH=1 $(SUDO) scripts/install-deps.sh
	@bench/pooler --keel $(KEEL)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	@rm -rf $(BUILD)

# Faults against a 3-host cluster in network namespaces (tests/hosts/chaos, docs/reliability.md):
# ROUNDS random rounds, seeded (SEED=n repeats a run; the seed is printed). chaos-smoke: each
# freeze of the leader once (a frozen primary must not accept a write after the new leader's
# first: keel_fence), then a few random rounds of the other faults.
ROUNDS ?= 200
SEED ?=
CHAOS_FAULTS ?= kill_agent,kill_postmaster,kill_etcd,freeze_agent,freeze_agent_and_postmaster,isolate_host,cut_link,degrade_link,fill_wal
chaos: build
	@tests/hosts/chaos --keel $(KEEL) --rounds $(ROUNDS) --faults $(CHAOS_FAULTS) $(if $(SEED),--seed $(SEED))

chaos-smoke: build
	@tests/hosts/chaos --keel $(KEEL) --rounds 2 --in-order --target leader \
	  --faults freeze_agent,freeze_agent_and_postmaster
	@tests/hosts/chaos --keel $(KEEL) --rounds 2 --in-order --target leader --sync off \
	  --faults freeze_agent,freeze_agent_and_postmaster
	@tests/hosts/chaos --keel $(KEEL) --rounds 3 --hold 4 $(if $(SEED),--seed $(SEED)) \
	  --faults kill_agent,kill_postmaster,kill_etcd,isolate_host,cut_link,degrade_link,fill_wal
