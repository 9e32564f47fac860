#!/usr/bin/env bash
# README's test command: install dependencies, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR="${INSTSEG_BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest --output-on-failure -j "${INSTSEG_TEST_JOBS:-2}" --timeout 900
# The sanitizer subset (ASan + UBSan on the RLE / polygon / COCO JSON parsers; about a minute).
cd "$ROOT"
bash scripts/sanitize.sh --ci
