#!/usr/bin/env bash
# Builds the threaded CPU trainer (`cnn-worker`'s `trainer-threads`) into trunk's staging dir, as
# trunk's post-build hook (Trunk.toml), or into $1. Threads in wasm need what stable Rust lacks:
# std rebuilt with atomics (nightly's build-std), shared memory, and wasm-bindgen's thread glue.
# It has its own target dir: other rustflags and another std than the page's build.
# Two builds, each in its own folder with its own JS glue: `threads/plain/` (simd128) and
# `threads/relaxed/` (gemm's products with relaxed SIMD's multiply-add, for engines that have it);
# the loader picks one. The glue names functions by their index in the wasm, which differs between
# the builds, and the pool's sub-workers import the glue beside the wasm they run.
set -euo pipefail
cd "$(dirname "$0")/.."
source dev/env.sh
out="${1:-${TRUNK_STAGING_DIR:?run by trunk, or give an output folder}}"
profile="${TRUNK_PROFILE:-release}"
target="$CARGO_TARGET_DIR/threads"
flags=(-C target-feature=+atomics,+bulk-memory,+simd128
  # Shared, imported memory (each pool thread instantiates the module on it), up to 4 GiB, and the
  # thread-local storage exports wasm-bindgen's thread glue calls.
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base)
cargo_profile=(--release)
[ "$profile" = release ] || cargo_profile=()
rm -rf "$out/threads"
# Both builds share the target dir: only the crates above gemm-f32 differ between them.
for build in plain relaxed; do
  features=threads
  [ "$build" = plain ] || features=relaxed-simd
  RUSTFLAGS="${flags[*]}" cargo +nightly build -Z build-std=panic_abort,std \
    --target wasm32-unknown-unknown --target-dir "$target" "${cargo_profile[@]}" \
    -p cnn-worker --bin trainer-threads --no-default-features --features "$features"
  wasm-bindgen --target web --no-typescript --out-dir "$out/threads/$build" --out-name trainer_threads \
    "$target/wasm32-unknown-unknown/$profile/trainer-threads.wasm"
done
cp crates/cnn-worker/threads_loader.js "$out/trainer_threads_loader.js"
cp crates/cnn-worker/relaxed_simd.js "$out/relaxed_simd.js"
