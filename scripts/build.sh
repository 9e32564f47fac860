#!/usr/bin/env bash
# Configures and builds instseg in Release into build/ (or $INSTSEG_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${INSTSEG_BUILD_DIR:-build}"
JOBS="${INSTSEG_JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
