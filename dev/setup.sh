#!/usr/bin/env bash
# Installs what building, serving and testing need, skipping whatever is already there at the
# right version: the wasm target (and nightly's, with its std sources), Chromium + chromedriver, Mesa's
# Vulkan drivers, wasm-bindgen-cli, trunk, ECharts, and the data.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
TRUNK_VERSION=0.22.1
log() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || { log "wasm32 target"; rustup target add wasm32-unknown-unknown; }
# The threaded CPU worker (dev/build-threads.sh) rebuilds std with atomics: nightly's std sources.
rustup +nightly component list --installed | grep -qx 'rust-src' || { log "nightly rust-src"; rustup component add rust-src --toolchain nightly; }
rustup +nightly target list --installed | grep -qx wasm32-unknown-unknown || { log "nightly wasm32 target"; rustup target add wasm32-unknown-unknown --toolchain nightly; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "Chromium and chromedriver (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Native GPU tests (our kernels against the CPU's, a Vulkan training run) need a Vulkan driver:
# Mesa's lavapipe runs Vulkan on the CPU where there is no GPU, as in CI.
if ! dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  log "Mesa's Vulkan drivers (lavapipe) and the Vulkan loader (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  log "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file pins a webpki-roots release that crates.io no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  log "trunk $TRUNK_VERSION"
  # trunk 0.22 needs a newer rustc than stable here; the machine's nightly builds it. Its own
  # release profile (fat LTO, one codegen unit) optimises the whole tool on one core at the end,
  # for a tool that mostly waits on cargo: built here without LTO, in parallel codegen units, at
  # opt-level 1 (cold, two cores, 2026-12-07: 559 s at level 3, 405 s at level 1).
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo +nightly install trunk --version "$TRUNK_VERSION" --locked --force
fi

# ECharts draws the page's charts; the site serves it from app/node_modules (npm, pinned by its lock file).
wanted=$(node -p "require('./app/package-lock.json').packages['node_modules/echarts'].version")
have=$(node -p "try { require('./app/node_modules/echarts/package.json').version } catch { '' }")
[ "$have" = "$wanted" ] || { log "ECharts $wanted (npm)"; (cd app && npm ci --silent --no-audit --no-fund); }

bash dev/fetch-data.sh
