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
# Built with the site's `web` profile: the tests run the code the page ships, and it builds faster
# than the `fast` profile did (cold, two cores, 2026-12-07: 6.6 against 10.3 minutes), as it builds
# the GPU stack for size. It does not share the site's build: cargo compiles the crates under an
# LTO'd binary differently from those under a test binary (cfg-if's rlib alone differs), so each
# build has its own. (A debug wasm test binary is ~750 MB, and the runner then needs ~12 GB.)
# The timeout is for the whole run: the twelve WebGPU tests take up to a minute each on
# SwiftShader (the run of 21 tests took 279 s on two cores on 2026-12-06, 71-77 s on 2026-12-07),
# so it leaves room for a slower machine.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
WASM_BINDGEN_TEST_TIMEOUT=1800 CHROMEDRIVER="$(command -v chromedriver)" \
  cargo test --profile web -p cnn-train --target wasm32-unknown-unknown --test steps

step "site build"
trunk build --release --offline
ls -l dist/*.wasm

step "end-to-end: the page in headless Chromium"
CHROMEDRIVER="$(command -v chromedriver)" cargo test --profile fast -p e2e
