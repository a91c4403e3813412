#!/usr/bin/env bash
# Puts the real Fashion-MNIST (Debian's dataset-fashion-mnist, pinned) into public/data/fashion-mnist/.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="0.0~git20200523.55506a9-1"
SHA256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
DEST=public/data/fashion-mnist
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

have_all() { for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || return 1; done; }
if have_all; then exit 0; fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/cnn-playground"
DEB="$CACHE/dataset-fashion-mnist_${VERSION}_all.deb"
mkdir -p "$CACHE" "$DEST"
if ! echo "$SHA256  $DEB" | sha256sum -c --status 2>/dev/null; then
  (cd "$CACHE" && { apt-get download "dataset-fashion-mnist=$VERSION" 2>/dev/null ||
     { apt-get update -qq && apt-get download "dataset-fashion-mnist=$VERSION"; }; })
  DEB=$(ls "$CACHE"/dataset-fashion-mnist_*_all.deb | head -n1)
  echo "$SHA256  $DEB" | sha256sum -c --status || { echo "sha256 of $DEB does not match the pinned one" >&2; exit 1; }
fi
TMP=$(mktemp -d)
dpkg-deb -x "$DEB" "$TMP"
for f in "${FILES[@]}"; do cp "$TMP/usr/share/datasets/fashion-mnist/$f" "$DEST/$f"; done
rm -rf "$TMP"
echo "Fashion-MNIST is in $DEST"
