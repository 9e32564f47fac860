#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (GCC's
# -fsanitize=address,undefined; LibTorch, OpenCV and the other system
# libraries stay uninstrumented: ASan still sees their allocations and frees).
#
#   bash scripts/sanitize.sh          # every test executable, then `ctest -LE "slow|cuda"`
#   bash scripts/sanitize.sh --ci     # the subset README's test command runs (about a minute):
#                                     # tests/sanitize/, the RLE / polygon / COCO JSON parsers
#                                     # and their unit tests (test_rle, test_coco_json) built
#                                     # from source without the LibTorch PCH
#   bash scripts/sanitize.sh -- -R Rle   # extra arguments after -- go to ctest (with --ci: to
#                                        # the test executable, e.g. -- --gtest_filter='Corruption*')
#
# Builds into build-asan/ (INSTSEG_ASAN_BUILD_DIR; --ci: build-asan-ci/). Any sanitizer report
# fails the test that triggered it (halt_on_error, no recovery). The parsers
# are also fuzzed with libFuzzer: scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD="${INSTSEG_ASAN_BUILD_DIR:-build-asan}"
MODE=all
CTEST_EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ci) MODE=ci ;;
    --) shift; CTEST_EXTRA=("$@"); break ;;
    *) echo "usage: scripts/sanitize.sh [--ci] [-- ctest args...]" >&2; exit 2 ;;
  esac
  shift
done

FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [[ "$MODE" == ci ]]; then
  BUILD="${INSTSEG_ASAN_BUILD_DIR:-build-asan-ci}"
  cmake -S tests/sanitize -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE= >/dev/null
else
  # -O1 -g1: the usual ASan trade-off (readable stacks, a fraction of -O3's compile time).
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DINSTSEG_BUILD_BENCH=OFF -DINSTSEG_INSTALL=OFF -DINSTSEG_ALLOCATOR=system >/dev/null
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_odr_violation=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0}"
START=$(date +%s)
if [[ "$MODE" == ci ]]; then
  cmake --build "$BUILD" -j "${INSTSEG_JOBS:-$(nproc)}"
  BUILT=$(( $(date +%s) - START ))
  "$BUILD/test_sanitize_parsers" "${CTEST_EXTRA[@]}"
else
  cmake --build "$BUILD" -j "${INSTSEG_JOBS:-$(nproc)}"
  BUILT=$(( $(date +%s) - START ))
  cd "$BUILD"
  ctest --output-on-failure -j "${INSTSEG_TEST_JOBS:-2}" --timeout 1800 -LE 'slow|cuda' "${CTEST_EXTRA[@]}"
fi
echo "sanitize ($MODE): build ${BUILT} s, total $(( $(date +%s) - START )) s"
