#!/usr/bin/env bash
# Serves the playground at http://127.0.0.1:8080 (release build: training in a debug build crawls).
set -euo pipefail
cd "$(dirname "$0")/.."
source dev/env.sh
bash dev/setup.sh
exec trunk serve --release --offline --address 127.0.0.1 --port "${PORT:-8080}" "$@"
