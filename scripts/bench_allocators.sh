#!/usr/bin/env bash
# Whole-process CPU time, page faults and peak RSS of one command under each
# allocator (docs/performance.md, "Allocator"). The allocator is swapped with
# LD_PRELOAD / glibc tunables, so build with -DINSTSEG_ALLOCATOR=system first
# (otherwise the linked tcmalloc answers every variant except the preloaded ones).
#
#   scripts/bench_allocators.sh OUT ROUNDS -- CMD ARGS...
#   VARIANTS="glibc tcmalloc" scripts/bench_allocators.sh out 3 -- build/bench/bench_models --model solov2_r50
#
# Variants run interleaved (round 1: all variants, round 2: all, ...); each run's
# /usr/bin/time -v report lands in OUT/VARIANT.ROUND.time, its output in .out.
set -euo pipefail
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: $0 OUT ROUNDS -- CMD ARGS..." >&2; exit 2
fi
OUT=$1; ROUNDS=$2; shift 3
mkdir -p "$OUT"
LIB=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
J=$LIB/libjemalloc.so.2
T=$LIB/libtcmalloc_minimal.so.4
for r in $(seq 1 "$ROUNDS"); do
  for v in ${VARIANTS:-glibc glibc_nomap jemalloc jemalloc_nodecay tcmalloc}; do
    case $v in
      glibc) E=() ;;
      glibc_nomap) E=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=268435456) ;;
      jemalloc) E=(LD_PRELOAD=$J) ;;
      jemalloc_nodecay) E=(LD_PRELOAD=$J MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1) ;;
      tcmalloc) E=(LD_PRELOAD=$T) ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    rc=0
    env "${E[@]}" /usr/bin/time -v -o "$OUT/$v.$r.time" "$@" > "$OUT/$v.$r.out" 2>&1 || rc=$?
    awk -F': ' -v v="$v" -v r="$r" -v rc="$rc" '
      /User time/ {u=$2} /System time/ {s=$2} /Elapsed/ {w=$2} /Maximum resident/ {m=$2} /Minor/ {f=$2}
      END {printf "%-18s round %s rc %s  user %7.2f s  sys %6.2f s  wall %s  minflt %9d  maxrss %6.0f MiB\n",
           v, r, rc, u, s, w, f, m/1024}' "$OUT/$v.$r.time"
  done
done
