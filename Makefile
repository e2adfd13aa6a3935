# Keel: `make demo` and `make test` work on a fresh Debian bookworm machine (as root, or with
# sudo for the package install).
BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
KEEL := $(BUILD)/src/keel

.PHONY: all deps build test unit integration demo bench-failover bench-proxy format format-check \
	clean

all: build

deps:
	@$(SUDO) scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DKEEL_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Unit tests in parallel, then integration tests one at a time (each starts real PostgreSQL and
# etcd processes; two at once on two cores would only make both slower).
test: build format-check
	@cd $(BUILD) && ctest -L unit -j$(JOBS) --output-on-failure --timeout 120
	@cd $(BUILD) && ctest -L integration --output-on-failure --timeout 600

unit: build
	@cd $(BUILD) && ctest -L unit -j$(JOBS) --output-on-failure

integration: build
	@cd $(BUILD) && ctest -L integration --output-on-failure --timeout 600

demo: build
	@$(KEEL) demo

bench-failover: build
	@KEEL_BENCH=1 $(SUDO) scripts/install-deps.sh
	@bench/failover --keel $(KEEL)

bench-proxy: build
	@KEEL_BENCH=1 $(SUDO) scripts/install-deps.sh
	@bench/proxy --keel $(KEEL)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	@rm -rf $(BUILD)
