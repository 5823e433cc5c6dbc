# Two commands: `make dev` serves the worker on http://localhost:$(PORT); `make test` runs
# every test. Both install what is missing first (`make tools`), from the package registries.

SHELL := bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := dev

PORT ?= 8787
STATE ?= .wrangler/state
ARGS ?=

CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(PATH)
WORKER_BUILD_VERSION := 0.8.7
# The wasm-bindgen CLI must be exactly the library version that Cargo.lock pins.
WASM_BINDGEN_VERSION = $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;q}' Cargo.lock)
WRANGLER := node node_modules/wrangler/bin/wrangler.js

# Offline-friendly wrangler, and worker-build pointed at local tools instead of downloads.
export WRANGLER_SEND_METRICS := false
export WRANGLER_SEND_ERROR_REPORTS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild

DEV_MARKER := .wrangler/dev-server-$(PORT).running
# The demo page's SDK, a static asset (see its rule).
SDK_ASSET := build/assets/sdk/edge-auth.mjs
SOURCES := $(shell find src crates -name '*.rs') $(wildcard crates/*/Cargo.toml) src/contract/openapi.json src/contract/demo.html Cargo.toml Cargo.lock build.rs \
	data/common-passwords.txt.gz
# Debian packages some targets need (chromium, wrk), installed when missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
apt = command -v $(1) >/dev/null || $(SUDO) apt-get install -y --no-install-recommends $(2) \
	|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(2); }

.PHONY: dev test test-browser tools worker consumer-rs sdk keygen lint lint-js unit fuzz fuzz-short e2e soak bench deploy-check clean

## dev: build, apply pending migrations to the local D1 in $(STATE), make a dev key, serve on $(PORT)
dev: $(DEV_MARKER)

# The server runs as the recipe of a marker file. make deletes a target whose recipe it is
# running when it gets SIGINT, SIGTERM or SIGHUP; the supervisor sees the marker vanish and
# stops wrangler and workerd, so no signal to make (not only a terminal's Ctrl-C) leaves a
# process behind.
# `migrations apply` asks for confirmation on a terminal; CI=true makes it go ahead unasked.
$(DEV_MARKER): tools worker .dev.vars FORCE
	@grep -q '^SECRET_KEY=' .dev.vars || { cargo run --quiet --bin keygen -- --secret-key >> .dev.vars \
		&& echo "Added a development SECRET_KEY to .dev.vars"; }
	CI=true $(WRANGLER) d1 migrations apply DB --local --persist-to "$(STATE)" > /dev/null
	node scripts/supervise.mjs --marker "$@" -- $(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to "$(STATE)" $(ARGS)

FORCE:

## test: formatting, lints, native unit tests, short fuzz runs, end-to-end tests against wrangler dev
test: tools lint unit fuzz-short worker sdk e2e

## tools: the wasm target, worker-build, the matching wasm-bindgen CLI, the npm packages
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ "$$(worker-build --version 2>/dev/null | awk '{print $$NF}')" = "$(WORKER_BUILD_VERSION)" ] \
		|| cargo install --force worker-build --version $(WORKER_BUILD_VERSION)
	@[ "$$(wasm-bindgen --version 2>/dev/null | awk '{print $$NF}')" = "$(WASM_BINDGEN_VERSION)" ] \
		|| cargo install --force wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund

## worker: the wasm module and its JavaScript shim, and the static assets (the demo page's SDK),
## each rebuilt only when a source changed
worker: build/worker/shim.mjs $(SDK_ASSET)

# The TypeScript client (clients/ts) as one minified ES module for the demo page, served by
# Workers Static Assets (wrangler.toml [assets]: build/assets) at /sdk/edge-auth.mjs, before
# the worker sees the request; no route of the API lies under /sdk/ (tests/e2e/demo-page.test.mjs).
# `make sdk` type-checks the same sources.
$(SDK_ASSET): $(wildcard clients/ts/src/*.ts)
	$(ESBUILD_BIN) clients/ts/src/index.ts --bundle --format=esm --target=es2022 --minify \
		--legal-comments=none --log-level=warning --outfile=$@

# worker-build keeps the wasm `name` section (it passes --debuginfo to wasm-opt): about 128 KB
# of function names that only stack traces of panics would use. Strip it, and optimise once
# more for size (worker-build's pass is -O): -Oz takes 2 KB off the gzipped module and leaves
# PBKDF2, signing and verification as fast (BENCHMARKS.md, "Size"). The feature list is the
# one worker-build enables, so the encoding stays what workerd accepts, plus SIMD, which the
# password hash's SHA-256 uses (crates/sha256); wasm-opt also reads it from the module.
WASM_FEATURES := $(addprefix --enable-,mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling simd)

## consumer-rs: the Rust consumer example (examples/consumer-rs), built by worker-build
consumer-rs: examples/consumer-rs/build/worker/shim.mjs

examples/consumer-rs/build/worker/shim.mjs: examples/consumer-rs/src/lib.rs examples/consumer-rs/Cargo.toml Cargo.lock
	cd examples/consumer-rs && worker-build --release
	@touch $@

build/worker/shim.mjs: $(SOURCES)
	worker-build --release
	$(WASM_OPT_BIN) build/index_bg.wasm -Oz --strip-debug $(WASM_FEATURES) -o build/index_bg.wasm
	@touch $@

.dev.vars:
	cargo run --quiet --bin keygen -- --dev-vars > $@.tmp
	cargo run --quiet --bin keygen -- --secret-key >> $@.tmp
	mv $@.tmp $@
	@echo "Wrote a new development signing key and SECRET_KEY to .dev.vars"

## keygen: print a new Ed25519 signing key for `wrangler secret put JWT_SIGNING_KEYS`
keygen:
	@cargo run --quiet --bin keygen

## lint: the layer rules of ARCHITECTURE.md, Rust formatting and clippy (native and wasm), the JavaScript
lint: lint-js
	scripts/check-layers.sh
	cargo fmt --check
	cargo clippy --all-targets --features fuzz -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	cargo clippy -p edge-auth-sha256 -- -D warnings
	cargo clippy -p edge-auth-sha256 --target wasm32-unknown-unknown -- -D warnings
	cargo fmt --check -p edge-auth-consumer-rs
	cargo clippy -p edge-auth-consumer-rs --target wasm32-unknown-unknown -- -D warnings

## lint-js: the JavaScript (tests, scripts, benchmark workers, example) and the TypeScript client,
## formatted and linted by Biome
lint-js: tools
	node_modules/.bin/biome ci

unit:
	cargo test

## fuzz: the fuzz targets of tests/fuzz.rs, FUZZ_SECONDS (default 300) each
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) cargo test --features fuzz --test fuzz -- --nocapture

fuzz-short:
	FUZZ_SECONDS=30 cargo test --features fuzz --test fuzz -- --nocapture

# PyJWT and cryptography for the interoperability tests, pinned, in a throwaway virtualenv.
E2E_VENV := target/e2e-venv
$(E2E_VENV)/installed: tests/e2e/requirements.txt
	python3 -m venv $(E2E_VENV)
	$(E2E_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

e2e: worker consumer-rs $(E2E_VENV)/installed
	cargo build --quiet --bin import-django
	node tests/e2e/run.mjs

## sdk: the TypeScript client of clients/ts, type-checked, checked against the OpenAPI document and built into clients/ts/dist; the TypeScript consumer example and the benchmark's TypeScript peer type-checked
sdk: tools
	node_modules/.bin/tsc -p clients/ts
	node_modules/.bin/tsc -p examples/consumer-ts
	node_modules/.bin/tsc -p bench/ts-peer
	node clients/ts/check-openapi.mjs

## test-browser: the demo page and the TypeScript client driven end to end in headless Chromium
## (Debian's chromium)
test-browser: tools worker sdk
	@$(call apt,chromium,chromium)
	node tests/browser/demo.mjs
	node tests/browser/sdk.mjs

## deploy-check: the bundle as Cloudflare would receive it (no account needed), and its size
deploy-check: tools worker
	@out=$$(mktemp -d) && $(WRANGLER) deploy --dry-run --outdir "$$out" 2>&1 | grep -E 'Total Upload|bindings|DB|DENYLIST|--dry-run' ; rm -rf "$$out"

## soak: SOAK_SECONDS (default 60) of mixed traffic against wrangler dev, then D1 checks
soak: tools worker
	node scripts/soak.mjs

## bench: the worker against its TypeScript peer and the Django seed, wasm micro-benchmarks, cold start and size;
## prints the tables and writes them into BENCHMARKS.md (BENCH_SECONDS, BENCH_RUNS)
SEED_VENV := target/bench/seed-venv
$(SEED_VENV)/installed: bench/django-seed/requirements.txt
	python3 -m venv $(SEED_VENV)
	$(SEED_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

bench: tools worker $(SEED_VENV)/installed
	@$(call apt,wrk,wrk)
	cargo build --quiet --release --target wasm32-unknown-unknown -p edge-auth-bench
	node scripts/bench.mjs

clean:
	rm -rf build target node_modules .wrangler
