# fleetlog — build, run and test entry points (CI runs `make test` through .ci/run).
#
# Overridable: CARGO_TARGET_DIR, TOOLS, DATA_DIR, LISTEN, BENCH_ARGS, SCALE_ARGS, CARGO.

SHELL := /bin/bash
.DEFAULT_GOAL := build

CARGO ?= cargo

# Shared outside the work tree, so CI runs in fresh clones reuse the build.
CARGO_TARGET_DIR ?= $(HOME)/.cache/fleetlog/target
export CARGO_TARGET_DIR

# Pinned peers (scripts/setup.sh); the Rust code and tests find nats-server via FLEETLOG_NATS_SERVER.
TOOLS ?= $(HOME)/.cache/fleetlog/tools
export FLEETLOG_TOOLS := $(TOOLS)
export FLEETLOG_NATS_SERVER := $(TOOLS)/bin/nats-server
# The cross-language tail test runs this Python (nats-py + protobuf), installed by setup.
export FLEETLOG_PYTHON := $(TOOLS)/py-consumer/bin/python
# The S3 tests run a real SeaweedFS, installed by setup: required, never skipped.
export FLEETLOG_WEED := $(TOOLS)/bin/weed
export FLEETLOG_REQUIRE_S3 := 1
# The reporting tests run a real OpenSearch node, installed by setup (a link to the install and
# one to the Java 21+ it runs with): required, never skipped.
export FLEETLOG_OPENSEARCH_HOME := $(TOOLS)/opensearch
export FLEETLOG_JAVA_HOME := $(TOOLS)/bin/opensearch-java
export FLEETLOG_REQUIRE_OPENSEARCH := 1
export PATH := $(TOOLS)/bin:$(PATH)

RUST_BACKTRACE ?= 1
export RUST_BACKTRACE

# As root, setup installs the real Mender clients, so their end-to-end tests must run, not skip.
ifeq ($(shell id -u),0)
export FLEETLOG_REQUIRE_MENDER := 1
endif

DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8080
BENCH_ARGS ?=

# In CI (CI set, and not "false"/"0") skip incremental artifacts for test runs: they only cost
# disk there. Target-specific, so it also reaches test's prerequisites (lint), which keeps
# lint and test on the same fingerprints.
ifneq ($(filter-out false 0,$(CI)),)
test: export CARGO_INCREMENTAL := 0
endif

TEST_LOG = $(CARGO_TARGET_DIR)/fleetlog-test.log

.PHONY: setup check-cargo build run lint test bench bench-scale clean-data cluster cluster-down

check-cargo:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
	  echo "make: '$(CARGO)' not found: install the Rust toolchain with rustup and put ~/.cargo/bin on PATH" >&2; \
	  exit 1; }

setup: check-cargo
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release -p fleetlog-gateway

run: build
	@mkdir -p $(DATA_DIR)
	$(CARGO_TARGET_DIR)/release/fleetlog serve --listen $(LISTEN) --data-dir $(DATA_DIR)

lint: check-cargo
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Both cargo test runs go on even if the first fails; the last line sums up every
# "test result:" line of both as "tests: N passed, N failed, N skipped".
test: setup lint
	@mkdir -p $(dir $(TEST_LOG)) && : > $(TEST_LOG)
	@set -o pipefail; rc=0; \
	echo "$(CARGO) test --workspace --all-targets --no-fail-fast"; \
	$(CARGO) test --workspace --all-targets --no-fail-fast 2>&1 | tee -a $(TEST_LOG) || rc=$$?; \
	echo "$(CARGO) test --workspace --doc"; \
	$(CARGO) test --workspace --doc 2>&1 | tee -a $(TEST_LOG) || { r=$$?; [ $$rc -ne 0 ] || rc=$$r; }; \
	awk '/^test result:/ { for (i = 2; i <= NF; i++) { \
	       if ($$i ~ /^passed/) p += $$(i-1); \
	       else if ($$i ~ /^failed/) f += $$(i-1); \
	       else if ($$i ~ /^ignored/) s += $$(i-1) } } \
	     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' $(TEST_LOG); \
	exit $$rc

# The scale bench runs the release `fleetlog` binary as a child process: build it first.
bench: setup
	$(CARGO) build --release -p fleetlog-gateway
	$(CARGO) run --release -p fleetlog-bench -- $(BENCH_ARGS)

# Issue 16's figures at 1M devices (most of an hour on 2 cores; ~30 GB of scratch under /tmp).
SCALE_ARGS ?=
bench-scale:
	$(MAKE) bench BENCH_ARGS="scale $(SCALE_ARGS)"

# The clustered shape on loopback (3 JetStream nodes, SeaweedFS, 2 replicas): scripts/cluster.sh.
cluster: build
	@bash scripts/cluster.sh up

cluster-down:
	@bash scripts/cluster.sh down

clean-data:
	@case "$(DATA_DIR)" in ""|/|.|..) echo "make: refusing to remove DATA_DIR='$(DATA_DIR)'" >&2; exit 1;; esac
	rm -rf -- $(DATA_DIR)
