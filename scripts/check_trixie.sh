#!/usr/bin/env bash
# Builds and tests the current commit against Debian 13 "trixie" (LibTorch 2.6)
# in a debootstrapped chroot, on a bookworm (or any Debian) host, as root.
#
#   bash scripts/check_trixie.sh cpu    # README's test command inside (libtorch-dev 2.6, full ctest)
#   bash scripts/check_trixie.sh cuda   # libtorch-cuda-dev 2.6 + nvcc 12.4: every target with
#                                       # INSTSEG_WITH_CUDA=ON compiles and links; `ctest -L cuda`
#                                       # runs (its tests skip without a GPU)
#   bash scripts/check_trixie.sh shell [cpu|cuda] [COMMAND...]
#       for fixing what 2.6 breaks: copies the working tree as it is (tracked and
#       untracked, not ignored files; uncommitted changes included) to <root>/work/dev,
#       whose build/ is kept between calls, and runs COMMAND there (default: bash),
#       e.g. `check_trixie.sh shell cpu 'bash scripts/build.sh && build/tests/solov2/test_solov2'`
#
# Not part of .ci/run: the first run downloads ~0.6 GB (cpu) or ~3 GB (cuda).
# Everything lives in a cache folder outside the repository
# ($INSTSEG_CHROOT_CACHE, default /work/cache/trixie):
#   <cache>/<mode>/root     the chroot (created once by debootstrap --variant=minbase, then reused)
#   <cache>/<mode>/ccache   its compiler cache (a rerun of an unchanged tree compiles nothing)
#   <cache>/<mode>/log      the last run's full output
# The committed HEAD is cloned afresh into <root>/work/instseg on every run
# (uncommitted changes are not included: commit first). ../shared, when
# present next to the repository, is bind-mounted read-only at
# <root>/work/shared so that the fixture tests run. /proc, /sys, /dev and
# /dev/pts are mounted while the script runs and unmounted on exit, also on
# failure or Ctrl-C.
#
# Environment: INSTSEG_CHROOT_CACHE (cache folder), INSTSEG_DEBIAN_MIRROR
# (default: the host's first deb.debian.org-style URI, else
# http://deb.debian.org/debian), INSTSEG_JOBS (build jobs, default nproc),
# INSTSEG_TEST_JOBS (ctest -j, default 2). Host needs: debootstrap, git.
# Last line of output: a one-line summary (CTest runs one test per GoogleTest
# suite; the skipped cases are named from scripts/test.sh's skip list), e.g.
#   check_trixie cpu: PASS 126/126 test suites, 2 cases skipped (A.b, C.d); LibTorch 2.6.0; commit 1234567; 41m12s
set -euo pipefail

MODE="${1:-cpu}"
SHELL_CMD=""
case "$MODE" in
  cpu | cuda) ;;
  shell)
    shift
    MODE=cpu
    if [ "${1:-}" = cpu ] || [ "${1:-}" = cuda ]; then MODE="$1"; shift; fi
    SHELL_CMD="${*:-bash}"
    ;;
  *) echo "usage: $0 [cpu|cuda] | shell [cpu|cuda] [COMMAND...]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "check_trixie: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
command -v debootstrap >/dev/null || {
  echo "check_trixie: debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }

REPO="$(cd "$(dirname "$0")/.." && pwd)"
COMMIT="$(git -C "$REPO" rev-parse HEAD)"
SHORT="$(git -C "$REPO" rev-parse --short HEAD)"
CACHE="${INSTSEG_CHROOT_CACHE:-/work/cache/trixie}/$MODE"
ROOT="$CACHE/root"
LOG="$CACHE/log"
# ../shared next to the checkout; for a git worktree elsewhere, next to the
# main checkout (the fixture tests read it when present).
SHARED="$(realpath -m "$REPO/../shared")"
if [ ! -d "$SHARED/fixtures" ]; then
  COMMON="$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
  [ -n "$COMMON" ] && [ -d "$COMMON/../../shared/fixtures" ] && SHARED="$(realpath -m "$COMMON/../../shared")"
fi
SHARED="${INSTSEG_SHARED_DIR:-$SHARED}"
SUITE=trixie

host_mirror() {
  local uri
  uri="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
           /etc/apt/sources.list.d/*.list 2>/dev/null |
         grep -oE 'https?://[^ ]*/debian/?' | grep -v -- '-security' | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="${INSTSEG_DEBIAN_MIRROR:-$(host_mirror)}"
MIRROR="${MIRROR%/}"

mkdir -p "$CACHE" "$CACHE/ccache"
# One run per cache folder at a time (two runs would share mounts and the clone).
exec 9>"$CACHE/lock"
flock -n 9 || { echo "check_trixie: another run holds $CACHE/lock" >&2; exit 2; }

START=$(date +%s)
[ -z "$SHELL_CMD" ] && exec > >(tee "$LOG") 2>&1
echo "check_trixie $MODE: commit $COMMIT, chroot $ROOT, mirror $MIRROR"
if [ -z "$SHELL_CMD" ] && [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
  echo "check_trixie: note: uncommitted changes in $REPO are not tested (HEAD is cloned)"
fi

# ---- mounts, always undone on exit ------------------------------------------
MOUNTS=()
mount_in() {  # mount_in TARGET mount-args...
  local target="$ROOT$1"; shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
}
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  MOUNTS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# A previous run killed with SIGKILL may have left mounts behind.
awk -v r="$ROOT/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r |
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done

# ---- the chroot: created once, reused ---------------------------------------
if [ ! -e "$ROOT/.instseg-ready" ]; then
  echo "check_trixie: creating the $SUITE chroot (debootstrap --variant=minbase)"
  rm -rf "$ROOT"
  debootstrap --variant=minbase --components=main,contrib,non-free,non-free-firmware \
    --include=ca-certificates "$SUITE" "$ROOT" "$MIRROR"
  cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main contrib non-free non-free-firmware
deb $MIRROR $SUITE-updates main contrib non-free non-free-firmware
EOF
  # A chroot has no init: keep services from starting during apt installs.
  printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
  chmod +x "$ROOT/usr/sbin/policy-rc.d"
  touch "$ROOT/.instseg-ready"
fi
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# The host's apt tweaks (snapshot mirrors need Check-Valid-Until false).
cp /etc/apt/apt.conf.d/99* "$ROOT/etc/apt/apt.conf.d/" 2>/dev/null || true

mount_in /proc -t proc proc
mount_in /sys -t sysfs sysfs
mount_in /dev --bind /dev
mount_in /dev/pts --bind /dev/pts
mount_in /dev/shm -t tmpfs -o mode=1777 tmpfs
mount_in /ccache --bind "$CACHE/ccache"
if [ -d "$SHARED/fixtures" ]; then
  mount_in /work/shared --bind "$SHARED"
  mount -o remount,bind,ro "$ROOT/work/shared"
else
  echo "check_trixie: note: $SHARED absent: fixture tests will skip"
fi

in_chroot() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive CCACHE_DIR=/ccache CCACHE_MAXSIZE=8G \
    INSTSEG_JOBS="${INSTSEG_JOBS:-$(nproc)}" INSTSEG_TEST_JOBS="${INSTSEG_TEST_JOBS:-2}" \
    INSTSEG_TORCH="$MODE" INSTSEG_SHARED_DIR=/work/shared \
    bash -c "cd $1 && { ! command -v ccache >/dev/null || ccache -z >/dev/null; } && $2"
}

if [ -n "$SHELL_CMD" ]; then
  # The working tree as it is, over the previous copy (build/ is kept; tar
  # keeps modification times, so ninja rebuilds only what changed).
  mkdir -p "$ROOT/work/dev"
  (cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$ROOT/work/dev"
  set +e
  in_chroot /work/dev "bash scripts/install_deps.sh >/dev/null && $SHELL_CMD"
  exit $?
fi

# ---- a fresh clone of HEAD --------------------------------------------------
rm -rf "$ROOT/work/instseg"
git clone -q --no-checkout "$REPO" "$ROOT/work/instseg"
git -C "$ROOT/work/instseg" -c advice.detachedHead=false checkout -q "$COMMIT"

# ---- run inside -------------------------------------------------------------
set +e
if [ "$MODE" = cpu ]; then
  # README's test command, unchanged.
  in_chroot /work/instseg "bash scripts/test.sh"
  RC=$?
else
  # The CUDA LibTorch: install_deps.sh picks libtorch-cuda-dev and
  # nvidia-cuda-toolkit for INSTSEG_TORCH=cuda. Build every target (apps,
  # tests, benches) with the kernels on; then the cuda-labelled tests, which
  # skip without a GPU.
  # libtorch-cuda-2.6 depends on nvidia-cudnn, a downloader whose postinst
  # fetches cuDNN from developer.download.nvidia.com. Without internet access
  # (our machines reach only the Debian archive) it fails and leaves the CUDA
  # LibTorch unconfigured: then it is configured without cuDNN, and the
  # executables link with --allow-shlib-undefined (libtorch_cuda.so's cuDNN
  # symbols resolve at load time on a machine that has cuDNN). Everything of
  # ours still compiles with nvcc and links against libtorch-cuda. So that the
  # executables load (CTest lists their cases at build time, then runs them),
  # LD_LIBRARY_PATH gets scripts/make_cudnn_stub.sh's load-only libcudnn.so.9:
  # nothing calls cuDNN without a GPU, so the cuda tests load and skip.
  in_chroot /work/instseg "NO_CUDNN=
             bash scripts/install_deps.sh || {
               dpkg-query -W -f='\${Status}' nvidia-cudnn 2>/dev/null | grep -q half-configured || exit 1
               echo 'check_trixie: NOTE: nvidia-cudnn could not download cuDNN (no internet access): configuring the CUDA LibTorch without it; executables link with --allow-shlib-undefined'
               printf '#!/bin/sh\\nexit 0\\n' > /var/lib/dpkg/info/nvidia-cudnn.postinst
               dpkg --configure -a && bash scripts/install_deps.sh
             } &&
             { ldconfig -p | grep -q libcudnn.so || NO_CUDNN=1; } &&
             if [ -n \"\$NO_CUDNN\" ]; then
               bash scripts/make_cudnn_stub.sh /opt/instseg-cudnn-stub &&
               export LD_LIBRARY_PATH=/opt/instseg-cudnn-stub
             fi &&
             nvcc --version | tail -n2 &&
             bash scripts/build.sh -DINSTSEG_WITH_CUDA=ON \${NO_CUDNN:+-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined} &&
             cd build && ctest -L cuda --output-on-failure -j \$INSTSEG_TEST_JOBS --timeout 900"
  RC=$?
fi
set -e

# ---- one-line summary -------------------------------------------------------
ELAPSED=$(($(date +%s) - START))
DUR="$((ELAPSED / 60))m$((ELAPSED % 60))s"
TORCH_VER="$(chroot "$ROOT" dpkg-query -W -f='${Version}' libtorch-dev libtorch-cuda-dev 2>/dev/null |
             head -c 40 || true)"
TORCH_VER="$(echo "$TORCH_VER" | grep -oE '^[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
CCACHE_STATS="$(chroot "$ROOT" env CCACHE_DIR=/ccache ccache -s 2>/dev/null |
                grep -E '^ *Hits:' | head -n1 | tr -s ' ' || true)"
TOTAL="$(grep -oE 'tests passed, [0-9]+ tests failed out of [0-9]+' "$LOG" | tail -n1 || true)"
NTOT="$(echo "$TOTAL" | grep -oE '[0-9]+$' || true)"
NFAIL="$(echo "$TOTAL" | grep -oE '[0-9]+ tests failed' | grep -oE '^[0-9]+' || true)"
# Skipped cases: scripts/test.sh's list (every case, also inside passing
# suites); for the cuda mode's plain ctest, the suites CTest reports skipped.
SKIPLOG="$ROOT/work/instseg/build/Testing/skipped_cases.txt"
if [ "$MODE" = cpu ] && [ -f "$SKIPLOG" ]; then
  SKIPPED="$(sort -u "$SKIPLOG" | paste -sd, - | sed 's/,/, /g')"
else
  SKIPPED="$(sed -n '/The following tests did not run:/,/^$/p' "$LOG" | grep -oE '[0-9]+ - [^ ]+' |
             sed 's/^[0-9]* - //' | paste -sd, - | sed 's/,/, /g' || true)"
fi
NSKIP=0
[ -n "$SKIPPED" ] && NSKIP=$(echo "$SKIPPED" | tr ',' '\n' | wc -l)
# (|| true: with no failed test grep finds nothing, and under pipefail + set -e
# that ended the script before its summary, with exit status 1 after a pass.)
FAILED="$(sed -n '/The following tests FAILED:/,/^$/p' "$LOG" | grep -oE '[0-9]+ - [^ ]+' |
          sed 's/^[0-9]* - //' | paste -sd, - | sed 's/,/, /g' || true)"
if [ "$RC" -eq 0 ]; then VERDICT=PASS; else VERDICT=FAIL; fi
WHAT=""
if [ -n "$NTOT" ]; then
  WHAT="$((NTOT - NFAIL))/$NTOT test suites passed"
  [ "$MODE" = cuda ] && WHAT="all targets built (INSTSEG_WITH_CUDA=ON); ctest -L cuda: $WHAT"
  grep -q '^make_cudnn_stub: ' "$LOG" && WHAT="$WHAT (no cuDNN offline: tests loaded with a cuDNN stub)"
  [ "$NSKIP" -gt 0 ] && WHAT="$WHAT, $NSKIP skipped ($SKIPPED)"  # cases (cpu) or suites (cuda)
  [ -n "$FAILED" ] && WHAT="$WHAT; failed: $FAILED"
else
  WHAT="build or setup failed (exit $RC), see $LOG"
fi
echo "check_trixie $MODE: $VERDICT $WHAT; LibTorch ${TORCH_VER:-?}; commit $SHORT; $DUR${CCACHE_STATS:+; ccache$CCACHE_STATS}"
exit "$RC"
