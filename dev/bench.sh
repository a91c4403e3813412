#!/usr/bin/env bash
# The benchmark: training steps (forward, backward, SGD update) after a warm-up, in examples/s and
# achieved GFLOP/s, for vgg11-r4 and resnet-small at 56 and 84 px, batch 32 and 128, timed for
#   ours natively (`cnn bench`, CPU and wgpu), PyTorch natively (CPU, threads = cores),
#   ours in headless Chromium (the page's worker on WebGPU and the CPU), and TensorFlow.js in the
#   same Chromium (webgl, webgpu, wasm),
# one after the other in this session, then printed as one table with our ratios to each peer.
# The peers are installed here, not by CI: PyTorch from PyPI into a virtualenv, TF.js from npm,
# both under ~/.cache/cnn-playground/bench. Takes most of an hour on two cores (the software WebGPU
# and WebGL adapters take seconds per step, so the browser's GPU systems run at 56 px, batch 32
# only unless BENCH_GPU_SIZES and BENCH_GPU_BATCHES say more), then products of two 1024x1024
# matrices alone (BENCH_MATMUL) on each system. Narrow it with BENCH_MODELS,
# BENCH_SIZES, BENCH_BATCHES, BENCH_SYSTEMS (browser systems), BENCH_WARMUP, BENCH_STEPS.
set -euo pipefail
cd "$(dirname "$0")/.."
source dev/env.sh
bash dev/setup.sh
models=${BENCH_MODELS:-vgg11-r4,resnet-small}
sizes=${BENCH_SIZES:-56,84}
batches=${BENCH_BATCHES:-32,128}
export BENCH_SIZES=$sizes BENCH_BATCHES=$batches BENCH_WARMUP=${BENCH_WARMUP:-3} BENCH_STEPS=${BENCH_STEPS:-10}
cache="$HOME/.cache/cnn-playground/bench"
mkdir -p "$cache"
rows="$cache/rows.jsonl"
: >"$rows"
log() { printf '\n== %s (%s)\n' "$*" "$(date +%T)" >&2; }

# Everything is built and installed first: a compile next to a timed run cuts its speed 3-4x.
log "building the CLI and the site"
# The tests' profile (release code without LTO): its build is already there after dev/test.sh.
cargo build --profile fast -p cnn-cli
trunk build --release --offline
cnn="$CARGO_TARGET_DIR/fast/cnn"
log "PyTorch (PyPI) and TensorFlow.js (npm)"
[ -x "$cache/venv/bin/python" ] || python3 -m venv "$cache/venv"
"$cache/venv/bin/python" -c 'import torch, numpy' 2>/dev/null || "$cache/venv/bin/pip" install -q torch numpy
mkdir -p "$cache/tfjs"
cp dev/bench/tfjs.html dev/bench/tfjs_bench.js "$cache/tfjs/"
[ -d "$cache/tfjs/node_modules/@tensorflow/tfjs-backend-wasm" ] || (cd "$cache/tfjs" && npm install --silent --no-save \
  @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0)
cargo bench --profile fast -p e2e --bench page_speed --no-run

log "ours natively"
for backend in cpu wgpu vulkan; do
  # A backend that cannot run (no GPU, or only a software one) becomes an error row with its sentence.
  if ! error=$("$cnn" bench --json --backend "$backend" --model "$models" --size "$sizes" --batch-size "$batches" \
    --warmup "$BENCH_WARMUP" --steps "$BENCH_STEPS" 2>&1 >>"$rows"); then
    python3 -c 'import json, sys; print(json.dumps({"system": sys.argv[1], "error": sys.argv[2]}))' \
      "ours-native-$backend" "${error#error: }" >>"$rows"
  fi
  # The matrix product microbenchmark: ours and burn's on a GPU (no row where it cannot run).
  "$cnn" bench --json --backend "$backend" --matmul "${BENCH_MATMUL:-1024}" --steps 5 >>"$rows" 2>/dev/null || true
done
log "PyTorch"
for model in ${models//,/ }; do
  "$cache/venv/bin/python" dev/bench/torch_bench.py --name "$model" --spec "$("$cnn" spec --model "$model")" \
    --sizes "$sizes" --batches "$batches" --warmup "$BENCH_WARMUP" --steps "$BENCH_STEPS" >>"$rows"
done
log "ours and TensorFlow.js in headless Chromium"
specs=$(for model in ${models//,/ }; do printf '"%s": %s,' "$model" "$("$cnn" spec --model "$model")"; done)
BENCH_SPECS="{${specs%,}}" BENCH_TFJS_DIR="$cache/tfjs" CHROMEDRIVER="$(command -v chromedriver)" \
  cargo bench --profile fast -p e2e --bench page_speed >>"$rows"

log "results ($(nproc) cores: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1))"
python3 dev/bench/table.py "$rows"
