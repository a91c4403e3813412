#!/usr/bin/env bash
# Builds the threaded CPU trainer (`cnn-worker`'s `trainer-threads`) into trunk's staging dir, as
# trunk's post-build hook (Trunk.toml), or into $1. Threads in wasm need what stable Rust lacks:
# std rebuilt with atomics (nightly's build-std), shared memory, and wasm-bindgen's thread glue.
# It has its own target dir: other rustflags and another std than the page's build.
# Two builds, one glue: `trainer_threads_bg.wasm` (simd128) and `trainer_threads_relaxed_bg.wasm`
# (gemm's products with relaxed SIMD's multiply-add, for engines that have it); the loader picks.
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
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
# Both builds share the target dir: only the crates above gemm-f32 differ between them.
for build in plain relaxed; do
  features=threads
  [ "$build" = plain ] || features=relaxed-simd
  RUSTFLAGS="${flags[*]}" cargo +nightly build -Z build-std=panic_abort,std \
    --target wasm32-unknown-unknown --target-dir "$target" "${cargo_profile[@]}" \
    -p cnn-worker --bin trainer-threads --no-default-features --features "$features"
  wasm-bindgen --target web --no-typescript --out-dir "$staged/$build" --out-name trainer_threads \
    "$target/wasm32-unknown-unknown/$profile/trainer-threads.wasm"
done
# One glue serves both: the builds differ only inside gemm's kernels, never in what they import.
cmp -s "$staged/plain/trainer_threads.js" "$staged/relaxed/trainer_threads.js" ||
  { echo "the two threaded builds need different JS glue" >&2; exit 1; }
cp -r "$staged/plain/." "$out/"
cp "$staged/relaxed/trainer_threads_bg.wasm" "$out/trainer_threads_relaxed_bg.wasm"
cp crates/cnn-worker/threads_loader.js "$out/trainer_threads_loader.js"
cp crates/cnn-worker/relaxed_simd.js "$out/relaxed_simd.js"
