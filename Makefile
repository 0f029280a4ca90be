# Build, test and lint lambda-adapter. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help build test test-only lint fmt-check clippy doc tools

help:
	@echo "make build   - release build of lambda-adapter for this machine (target/release/lambda-adapter)"
	@echo "make test    - format check, clippy, docs, and every test (what CI runs)"
	@echo "make lint    - format check, clippy and docs only"

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

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

lint: fmt-check clippy doc

test-only: tools
	$(CARGO) nextest run --workspace --no-fail-fast
	$(CARGO) test --workspace --doc

test: lint test-only
