# Sourced by the dev scripts: one cargo target dir outside the clone, so that warm runs are quick.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cnn-playground/target}"
export PATH="$HOME/.cargo/bin:$PATH"
