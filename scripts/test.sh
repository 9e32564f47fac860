#!/usr/bin/env bash
# README's test command: install dependencies, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR="${INSTSEG_BUILD_DIR:-build}"
cd "$BUILD_DIR"
# One CTest test per GoogleTest suite (cmake/InstsegTestSuites.cmake); the
# cases that skipped (no GPU, no ../shared, ...) are listed after the run.
export INSTSEG_TEST_SKIP_LOG="$PWD/Testing/skipped_cases.txt"
mkdir -p Testing && rm -f "$INSTSEG_TEST_SKIP_LOG"
rc=0
ctest --output-on-failure -j "${INSTSEG_TEST_JOBS:-2}" --timeout 900 || rc=$?
if [ -s "$INSTSEG_TEST_SKIP_LOG" ]; then
  echo "Skipped test cases ($(sort -u "$INSTSEG_TEST_SKIP_LOG" | wc -l)): $(sort -u "$INSTSEG_TEST_SKIP_LOG" | paste -sd' ' -)"
fi
[ "$rc" -eq 0 ] || exit "$rc"
# The sanitizer subset (ASan + UBSan on the RLE / polygon / COCO JSON parsers; about a minute).
cd "$ROOT"
bash scripts/sanitize.sh --ci
