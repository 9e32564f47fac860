#!/usr/bin/env bash
# Installs instseg's build and test dependencies from Debian's packages.
# Supported releases (read from /etc/os-release):
#   Debian 12 bookworm  LibTorch 1.13 (CPU)
#   Debian 13 trixie    LibTorch 2.6 (CPU); with INSTSEG_TORCH=cuda the CUDA
#                       build instead: libtorch-cuda-dev 2.6 (contrib) and
#                       nvidia-cuda-toolkit 12.4 with nvcc (non-free), which
#                       need those components in the apt sources.
# The package names are the same on both releases except where noted.
# Idempotent: apt runs only when something is missing.
set -euo pipefail

CODENAME=""
if [ -r /etc/os-release ]; then
  CODENAME="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
fi
TORCH="${INSTSEG_TORCH:-cpu}"

case "$CODENAME" in
  bookworm | trixie) ;;
  *)
    echo "install_deps: Debian bookworm or trixie expected, /etc/os-release says '${CODENAME:-?}';" \
         "trying bookworm's package names" >&2
    ;;
esac

case "$TORCH" in
  cpu)
    # LibTorch 1.13 on bookworm, 2.6 on trixie (CPU builds)
    TORCH_PKGS=(libtorch-dev python3-torch libgloo-dev)
    ;;
  cuda)
    [ "$CODENAME" = trixie ] || { echo "install_deps: INSTSEG_TORCH=cuda needs trixie (libtorch-cuda-dev)" >&2; exit 2; }
    # Conflicts with libtorch-dev / python3-torch / libgloo-dev: the CUDA build
    # replaces them (libtorch-cuda-2.6 needs libgloo-cuda-0, which conflicts with libgloo0).
    # libnccl-dev (non-free): nccl.h for c10d's NCCL process group (multi-GPU training).
    TORCH_PKGS=(libtorch-cuda-dev python3-torch-cuda nvidia-cuda-toolkit libgloo-cuda-dev libnccl-dev)
    ;;
  *) echo "install_deps: INSTSEG_TORCH must be cpu or cuda, not '$TORCH'" >&2; exit 2 ;;
esac

PKGS=(
  # build
  g++ cmake ninja-build ccache pkg-config
  # LibTorch and what it needs at run time here
  "${TORCH_PKGS[@]}"
  libopenblas0-openmp   # LibTorch's fp32 GEMM: 154 GFLOP/s vs 5.8 with reference BLAS (2 cores)
  # (libgloo-dev / libgloo-cuda-dev above: c10d's ProcessGroupGloo headers include <gloo/...>)
  libgoogle-perftools-dev  # tcmalloc_minimal, linked into the executables (docs/performance.md, "Allocator")
  # apps
  libopencv-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # test oracles only (fixture generators, torch.load round trips); never used at run time
  python3 python3-torchvision python3-scipy python3-numpy
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PKGS[@]} Debian packages present (${CODENAME:-?}, LibTorch $TORCH)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]} (${CODENAME:-?}, LibTorch $TORCH)"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
