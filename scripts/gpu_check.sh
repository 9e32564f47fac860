#!/usr/bin/env bash
# One-shot CUDA check for a GPU machine that has a pip-installed PyTorch and no
# Debian packages (no GoogleTest, OpenCV, yaml-cpp, Google Benchmark): builds
# instseg against the wheel's LibTorch, runs the `cuda`-labelled tests and the
# model benchmark, and writes one report file. Budget: under 8 minutes.
#
#   bash scripts/gpu_check.sh [REPORT]     # default: $OUT/gpu_check.md when $OUT is set, else build-gpu/gpu_check.md
#
# Steps (each one's time is in the report):
#   1. configure build-gpu/ with CMAKE_PREFIX_PATH from
#      `python3 -c 'import torch;print(torch.utils.cmake_prefix_path)'`, INSTSEG_BUILD_APPS=OFF (the
#      OpenCV/YAML/JSON apps are not needed), INSTSEG_WITH_CUDA=ON and CMAKE_CUDA_ARCHITECTURES = the GPU's
#      compute capability; GoogleTest and Google Benchmark are used when found, else tests/common/minitest
#      stands in and only bench_models is built;
#   2. build test_cuda, engine_test_worker and bench_models (ninja, all cores);
#   3. ctest -L cuda (RoIAlign, DCNv1/v2 forward and backward, Matrix NMS, mask pasting, Hungarian host round trip, SOLOv2 and QueryInst
#      predict + one training step, fp16/bf16 autocast with the GradScaler, NCCL: 2 processes with 2 GPUs,
#      a world of 1 with one);
#   4. bench_models --device cuda --fp16: SOLOv2-R50 and QueryInst-R50 at 1333x800, batch 1 and 8, fp32 and
#      fp16 autocast (images/s, peak GPU memory).
#
# Needs on the machine: python3 whose torch is a CUDA build, cmake >= 3.18, ninja (else make), g++ (C++17),
# nvcc of the CUDA major version torch was built with (/usr/local/cuda/bin is searched). Nothing has to be
# carried: the working tree alone (the tests' data lives in tests/data; ../shared is not needed).
# NCCL: nccl.h is looked for in the nvidia-nccl wheel next to torch (NCCL_INCLUDE_DIR to override); without
# it the NCCL test fails with "this build has no NCCL".
#
# Without a usable GPU (no CUDA device, a CPU-only torch, or no nvcc) it takes the CPU fallback path: the
# same build with INSTSEG_WITH_CUDA=OFF, the cuda tests (which then skip), and one CPU repetition of the
# benchmark at batch 1, so that everything but the GPU itself is exercised. Environment:
#   GPU_CHECK_CPU=1          force the CPU fallback
#   GPU_CHECK_BARE=1         ignore GoogleTest / Google Benchmark even where installed (as on the GPU machine)
#   GPU_CHECK_PYTHON=python  the python3 that has torch (default: python3, then /usr/bin/python3)
#   GPU_CHECK_BUDGET=480     seconds for the whole run; later steps get what is left
#   INSTSEG_GPU_BUILD_DIR    build folder (default build-gpu), INSTSEG_JOBS (default nproc)
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
BUDGET="${GPU_CHECK_BUDGET:-480}"
B="${INSTSEG_GPU_BUILD_DIR:-build-gpu}"
JOBS="${INSTSEG_JOBS:-$(nproc)}"
mkdir -p "$B"
if [ -n "${1:-}" ]; then REPORT="$1"; elif [ -n "${OUT:-}" ]; then REPORT="$OUT/gpu_check.md"; else REPORT="$B/gpu_check.md"; fi
LOGDIR="$(dirname "$REPORT")"
mkdir -p "$LOGDIR"
LOG_BUILD="$LOGDIR/gpu_check_build.log"
LOG_TEST="$LOGDIR/gpu_check_ctest.log"
LOG_BENCH="$LOGDIR/gpu_check_bench.log"
: > "$LOG_BUILD"; : > "$LOG_TEST"; : > "$LOG_BENCH"

elapsed() { echo $(($(date +%s) - T0)); }
left() { local l=$((BUDGET - $(elapsed))); [ "$l" -lt 10 ] && l=10; echo "$l"; }
say() { echo "gpu_check [$(elapsed)s]: $*" >&2; }

# ---- the machine -------------------------------------------------------------
PY=""
for p in ${GPU_CHECK_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then PY="$p"; break; fi
done
[ -n "$PY" ] || { say "no python3 with torch found (GPU_CHECK_PYTHON)"; exit 2; }
read -r TORCH_VER TORCH_CUDA HAS_GPU NGPU CAP GPU_NAME < <("$PY" - <<'EOF'
import torch
ok = torch.cuda.is_available()
cap = "".join(map(str, torch.cuda.get_device_capability(0))) if ok else "-"
name = torch.cuda.get_device_name(0).replace(" ", "_") if ok else "-"
print(torch.__version__, torch.version.cuda or "-", int(ok), torch.cuda.device_count() if ok else 0, cap, name)
EOF
)
PREFIX="$("$PY" -c 'import torch;print(torch.utils.cmake_prefix_path)')"
[ -e "$PREFIX/Torch/TorchConfig.cmake" ] || PREFIX=""  # Debian's python3-torch: the system LibTorch's config
export PATH="$PATH:/usr/local/cuda/bin"
NVCC="$(command -v nvcc || true)"
MODE=cuda
WHY=""
if [ "${GPU_CHECK_CPU:-0}" = 1 ]; then MODE=cpu; WHY="GPU_CHECK_CPU=1"
elif [ "$HAS_GPU" != 1 ]; then MODE=cpu; WHY="torch sees no CUDA device (torch $TORCH_VER, CUDA ${TORCH_CUDA})"
elif [ -z "$NVCC" ]; then MODE=cpu; WHY="no nvcc on PATH or in /usr/local/cuda/bin"
fi
say "mode $MODE${WHY:+ ($WHY)}; torch $TORCH_VER; prefix ${PREFIX:-system}; $NGPU GPU(s) $GPU_NAME sm_$CAP"

# ---- configure + build ----------------------------------------------------------
CM=(-S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DINSTSEG_BUILD_APPS=OFF)
command -v ninja >/dev/null && CM+=(-G Ninja)
[ -n "$PREFIX" ] && CM+=("-DCMAKE_PREFIX_PATH=$PREFIX")
if [ "$MODE" = cuda ]; then
  CM+=(-DINSTSEG_WITH_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$CAP" "-DCMAKE_CUDA_COMPILER=$NVCC")
  if [ -z "${NCCL_INCLUDE_DIR:-}" ]; then
    SITE="$("$PY" -c 'import os,torch;print(os.path.dirname(os.path.dirname(torch.__file__)))')"
    NCCL_H="$(find "$SITE/nvidia" -maxdepth 4 -name nccl.h 2>/dev/null | head -n1)"
    [ -n "$NCCL_H" ] && export NCCL_INCLUDE_DIR="$(dirname "$NCCL_H")"
  fi
else
  CM+=(-DINSTSEG_WITH_CUDA=OFF)
fi
[ "${GPU_CHECK_BARE:-0}" = 1 ] && CM+=(-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON)
TARGETS=(test_cuda engine_test_worker bench_models)
say "configure + build ${TARGETS[*]} (-j$JOBS), log $LOG_BUILD"
TB0=$(date +%s)
{
  echo "+ cmake ${CM[*]}"
  timeout "$(left)" cmake "${CM[@]}" &&
    timeout "$(left)" cmake --build "$B" -j "$JOBS" --target "${TARGETS[@]}"
} >> "$LOG_BUILD" 2>&1
BUILD_RC=$?
BUILD_S=$(($(date +%s) - TB0))
say "build exit $BUILD_RC after ${BUILD_S}s"

# ---- cuda tests -----------------------------------------------------------------
TEST_RC=-1; TEST_S=0; TEST_LINE="not run (build failed)"; SKIPPED=""; FAILED=""
if [ "$BUILD_RC" -eq 0 ]; then
  TT0=$(date +%s)
  # Leave a minute for the benchmark.
  TLIM=$(( $(left) - 60 )); [ "$TLIM" -lt 30 ] && TLIM=30
  (cd "$B" && timeout "$TLIM" ctest -L cuda --output-on-failure --timeout "$TLIM" -j 1) > "$LOG_TEST" 2>&1
  TEST_RC=$?
  TEST_S=$(($(date +%s) - TT0))
  TEST_LINE="$(grep -E 'tests passed, [0-9]+ tests failed out of' "$LOG_TEST" | tail -n1)"
  [ -n "$TEST_LINE" ] || TEST_LINE="no summary (exit $TEST_RC; timed out after ${TLIM}s?)"
  # Tests that skipped (gtest prints "[  SKIPPED ]"; ctest marks them "Not Run" / "Skipped").
  SKIPPED="$(grep -oE '[0-9]+ - [A-Za-z0-9_.]+ \(Skipped\)' "$LOG_TEST" | sed -E 's/^[0-9]+ - //; s/ \(Skipped\)//' | paste -sd, - | sed 's/,/, /g')"
  FAILED="$(sed -n '/The following tests FAILED:/,/^$/p' "$LOG_TEST" | grep -oE '[0-9]+ - [A-Za-z0-9_.]+' | sed 's/^[0-9]* - //' | paste -sd, - | sed 's/,/, /g')"
  say "ctest -L cuda: $TEST_LINE (${TEST_S}s)"
fi

# ---- benchmark ----------------------------------------------------------------------
BENCH_RC=-1; BENCH_S=0
BIN="$B/bench/bench_models"
if [ "$BUILD_RC" -eq 0 ] && [ -x "$BIN" ]; then
  TB0=$(date +%s)
  BENCH_RC=0
  if [ "$MODE" = cuda ]; then
    for BATCH in 1 8; do
      timeout "$(left)" "$BIN" --device cuda --fp16 --model solov2_r50,queryinst_r50 --batch "$BATCH" \
        --warmup 2 --reps 5 >> "$LOG_BENCH" 2>&1 || BENCH_RC=$?
    done
  else
    # The CPU fallback proves the path only: one repetition at batch 1.
    timeout "$(left)" "$BIN" --device cpu --model solov2_r50,queryinst_r50 --batch 1 --warmup 0 --reps 1 \
      >> "$LOG_BENCH" 2>&1 || BENCH_RC=$?
  fi
  BENCH_S=$(($(date +%s) - TB0))
  say "bench_models exit $BENCH_RC (${BENCH_S}s)"
fi

# ---- report -------------------------------------------------------------------------
TOTAL=$(elapsed)
OK=PASS
{ [ "$BUILD_RC" -ne 0 ] || [ "$TEST_RC" -ne 0 ] || [ "$BENCH_RC" -ne 0 ]; } && OK=FAIL
{
  echo "# instseg gpu_check: $OK ($MODE mode)"
  echo
  echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC'), total ${TOTAL}s of a ${BUDGET}s budget"
  [ -n "$WHY" ] && echo "- CPU fallback: $WHY"
  echo "- torch $TORCH_VER (CUDA $TORCH_CUDA) from $PY; CMake prefix ${PREFIX:-system LibTorch}"
  echo "- GPUs: $NGPU ($GPU_NAME, compute capability $CAP)"
  command -v nvidia-smi >/dev/null && echo "- nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n1)"
  echo "- nvcc: ${NVCC:-none} $( [ -n "$NVCC" ] && "$NVCC" --version | grep -oE 'release [0-9.]+' )"
  echo "- $(cmake --version | head -n1); $(${CXX:-c++} --version 2>/dev/null | head -n1); $(nproc) CPUs"
  echo "- NCCL headers: ${NCCL_INCLUDE_DIR:-not found}"
  echo "- GoogleTest: $(grep -q 'minitest' "$LOG_BUILD" && echo 'not found: tests/common/minitest' || echo found)"
  echo
  echo "## Build (${BUILD_S}s, exit $BUILD_RC): ${TARGETS[*]}"
  echo
  if [ "$BUILD_RC" -eq 124 ]; then
    echo "Timed out: the ${BUDGET}s budget ran out during the build ($(grep -cE '^\[[0-9]+/' "$LOG_BUILD") steps done)."
    echo
  elif [ "$BUILD_RC" -ne 0 ]; then
    echo '```'; grep -E 'error|Error|FAILED' "$LOG_BUILD" | head -n 40; echo '```'
  fi
  echo "## ctest -L cuda (${TEST_S}s, exit $TEST_RC)"
  echo
  echo "$TEST_LINE"
  [ -n "$SKIPPED" ] && echo && echo "Skipped: $SKIPPED"
  [ -n "$FAILED" ] && echo && echo "Failed: $FAILED"
  echo
  echo '```'
  grep -E '^ *[0-9]+/[0-9]+ Test +#' "$LOG_TEST" | sed -E 's/ +/ /g'
  grep -E '^NCCL world size' "$LOG_TEST"
  echo '```'
  echo
  echo "## bench_models (${BENCH_S}s, exit $BENCH_RC)"
  echo
  awk '/^## Summary/{on=1; next} /^### /{on=0} on && /^\|/' "$LOG_BENCH"
  grep -E 'failed' "$LOG_BENCH" | head -n 5
  echo
  echo "Full logs beside this file: $(basename "$LOG_BUILD"), $(basename "$LOG_TEST"), $(basename "$LOG_BENCH")."
} > "$REPORT"
say "$OK: report $REPORT (${TOTAL}s)"
echo "gpu_check $MODE: $OK; build ${BUILD_S}s exit $BUILD_RC; ctest -L cuda: $TEST_LINE${SKIPPED:+ (skipped: $SKIPPED)}; bench exit $BENCH_RC; ${TOTAL}s"
[ "$OK" = PASS ]
