#!/usr/bin/env bash
# Runs one libFuzzer target under ASan + UBSan for SECONDS seconds.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#   scripts/fuzz.sh TARGET merge            # minimise the committed corpus with new finds (-merge=1)
#   scripts/fuzz.sh TARGET repro FILE...    # run the target on given inputs (a crash reproducer)
#   scripts/fuzz.sh list
#
# TARGET: pth | coco_json | results_json | rle | polygon | config. Builds fuzz/ with clang into
# build-fuzz/ (INSTSEG_FUZZ_BUILD_DIR), seeds the run from fuzz/corpus/TARGET
# (committed, minimised) plus the repository's fixtures, keeps new inputs in
# build-fuzz/corpus/TARGET and findings in build-fuzz/artifacts/TARGET/, and
# prints one summary line: executions, coverage, findings.
#
# Needs clang and libclang-rt-14-dev (Debian bookworm); not part of CI.
# On a shared machine run it at the lowest priority in its own autogroup:
#   setsid nice -n 19 scripts/fuzz.sh pth 600 & echo 19 > /proc/$!/autogroup
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS="pth coco_json results_json rle polygon config"
BUILD="${INSTSEG_FUZZ_BUILD_DIR:-build-fuzz}"

if [[ "${1:-}" == "list" || $# -lt 2 ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS|merge|repro [...]; targets: $TARGETS" >&2
  [[ "${1:-}" == "list" ]] && exit 0 || exit 2
fi
T="${1#fuzz_}"
MODE="$2"
shift 2
[[ " $TARGETS " == *" $T "* ]] || { echo "fuzz.sh: unknown target '$T' (one of: $TARGETS)" >&2; exit 2; }

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S fuzz -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target "fuzz_$T" -j "${INSTSEG_JOBS:-2}" >/dev/null
BIN="$BUILD/fuzz_$T"

# Seeds: the committed corpus, then the fixtures that exercise the same parser.
SEEDS="$BUILD/seeds/$T"
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
add_seed() { [[ -f "$1" ]] && cp "$1" "$SEEDS/$(basename "$(dirname "$1")")_$(basename "$1")" || true; }
case "$T" in
  pth)
    for f in tests/data/checkpoint/*.pth; do add_seed "$f"; done ;;
  coco_json)
    for f in tests/data/eval/*/gt.json; do add_seed "$f"; done ;;
  results_json)
    for f in tests/data/eval/*/dets.json; do add_seed "$f"; done ;;
  config)
    # Byte 0 of an input picks the format (odd: JSON, even: YAML).
    for f in tests/data/config/*.yaml configs/solov2/solov2-light_r18_fpn_nuclei.yaml; do
      { printf '\x00'; cat "$f"; } > "$SEEDS/$(basename "$f").in"; done
    for f in tests/data/config/*.json; do { printf '\x01'; cat "$f"; } > "$SEEDS/$(basename "$f").in"; done ;;
  rle)
    python3 - "$SEEDS" <<'PY'
import json, struct, sys, os
out, n = sys.argv[1], 0
fx = json.load(open('tests/data/eval/rle/rle_fixtures.json'))
def seed(h, w, counts):
    global n
    open(os.path.join(out, 'rle_%d' % n), 'wb').write(struct.pack('<ii', h, w) + counts.encode())
    n += 1
for m in fx['masks']: seed(m['height'], m['width'], m['counts'])
for p in fx['polygons']:
    for c in p.get('counts_each', []): seed(p['height'], p['width'], c)
for m in fx['merge']:
    for c in m['inputs']: seed(m['height'], m['width'], c)
PY
    ;;
  polygon)
    python3 - "$SEEDS" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
def seed(name, h, w, poly):
    data = bytes([0]) + struct.pack('<HH', h, w) + b''.join(struct.pack('<h', max(-32768, min(32767, int(round(v * 4))))) for v in poly)
    open(os.path.join(out, name), 'wb').write(data)
fx = json.load(open('tests/data/eval/rle/rle_fixtures.json'))
for i, p in enumerate(fx['polygons']):
    for j, poly in enumerate(p['polygons']): seed('fx_%d_%d' % (i, j), p['height'], p['width'], poly)
gt = json.load(open('tests/data/eval/case1_basic/gt.json'))
sizes = {im['id']: (im['height'], im['width']) for im in gt['images']}
for i, a in enumerate(gt['annotations'][:20]):
    h, w = sizes[a['image_id']]
    for j, poly in enumerate(a['segmentation']): seed('gt_%d_%d' % (i, j), h, w, poly)
PY
    ;;
esac

CORPUS="$BUILD/corpus/$T"
ART="$BUILD/artifacts/$T"
mkdir -p "$CORPUS" "$ART" "fuzz/corpus/$T"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:detect_odr_violation=0:handle_abort=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0}"
export OMP_NUM_THREADS=1
# Inputs of at most 64 kB (polygon: 512 B); 2 GB of RSS and 1 GB per allocation are findings
# (an allocation the input cannot justify); 20 s per input is a hang.
# Polygons: at most 512 bytes (~250 vertices): longer outlines only spend each
# execution inside the rasteriser's outline budget (2.6 executions/s at 64 kB).
MAX_LEN=65536
[[ "$T" == polygon ]] && MAX_LEN=512
COMMON=(-max_len=$MAX_LEN -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -print_final_stats=1)

case "$MODE" in
  merge)
    # New finds of build-fuzz/corpus + the committed corpus -> a minimal committed corpus.
    NEW="$BUILD/merge/$T" && rm -rf "$NEW" && mkdir -p "$NEW"
    "$BIN" "${COMMON[@]}" -merge=1 "$NEW" "fuzz/corpus/$T" "$SEEDS" "$CORPUS" "$@" 2>&1 | tail -3
    rm -rf "fuzz/corpus/$T" && mv "$NEW" "fuzz/corpus/$T"
    echo "fuzz.sh $T merge: $(ls "fuzz/corpus/$T" | wc -l) files, $(du -sh "fuzz/corpus/$T" | cut -f1) in fuzz/corpus/$T"
    ;;
  repro)
    "$BIN" "${COMMON[@]}" "$@" ;;
  *)
    [[ "$MODE" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, got '$MODE'" >&2; exit 2; }
    LOG="$BUILD/fuzz_$T.log"
    # Findings of earlier runs (fixed or not) move aside: this run counts its own.
    if [[ -n "$(ls "$ART")" ]]; then
      mkdir -p "$BUILD/artifacts-earlier/$T" && mv "$ART"/* "$BUILD/artifacts-earlier/$T/"
    fi
    set +e
    "$BIN" "${COMMON[@]}" -max_total_time="$MODE" -artifact_prefix="$ART/" "$CORPUS" "fuzz/corpus/$T" "$SEEDS" \
      "$@" >"$LOG" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -oE '(#[0-9]+).*cov: [0-9]+ ft: [0-9]+' "$LOG" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo "cov: ?")
    findings=$(ls "$ART" | wc -l)
    echo "fuzz.sh $T: ${MODE}s, $execs executions, $cov, corpus $(ls "$CORPUS" | wc -l), findings $findings, exit $rc (log $LOG)"
    [[ $rc -eq 0 && $findings -eq 0 ]] || { tail -40 "$LOG" >&2; exit 1; }
    ;;
esac
