#!/usr/bin/env bash
# Every test: native unit and real-data tests, the browser tests on WebGPU and on the CPU backend
# (wasm-bindgen-test in headless Chromium), then the built site end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
source dev/env.sh
bash dev/setup.sh
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "native tests"
cargo test --profile fast --workspace --exclude app --exclude e2e

step "browser tests: WebGPU (SwiftShader) and CPU backends in headless Chromium"
# Built as the site is (its `web` profile, with `app` selected so that features unify as trunk's
# build of the app's package does): the tests run the code the page ships, and cargo's unit graph
# then finds all of their 383 units but the test's own 13 (cnn-train's lib, wasm-bindgen-test,
# proptest) in the site's build, so the site build below compiles no burn for the browser again.
# (A debug wasm test binary is ~750 MB, and the runner then needs ~12 GB of memory.)
# The timeout is for the whole run: the twelve WebGPU tests take up to a minute each on
# SwiftShader (the run of 21 tests took 279 s on two cores on 2026-12-06, 71-77 s on 2026-12-07),
# so it leaves room for a slower machine.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
WASM_BINDGEN_TEST_TIMEOUT=1800 CHROMEDRIVER="$(command -v chromedriver)" \
  cargo test --profile web -p cnn-train -p app --target wasm32-unknown-unknown --test steps

step "site build"
trunk build --release --offline
ls -l dist/*.wasm

step "end-to-end: the page in headless Chromium"
CHROMEDRIVER="$(command -v chromedriver)" cargo test --profile fast -p e2e
