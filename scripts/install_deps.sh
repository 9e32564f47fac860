#!/usr/bin/env bash
# Installs instseg's build and test dependencies from Debian bookworm's
# packages. Idempotent: apt runs only when something is missing.
set -euo pipefail

PKGS=(
  # build
  g++ cmake ninja-build ccache pkg-config
  # LibTorch 1.13 (CPU) and what it needs at run time here
  libtorch-dev
  libopenblas0-openmp   # LibTorch's fp32 GEMM: 154 GFLOP/s vs 5.8 with reference BLAS (2 cores)
  libgloo-dev           # c10d's ProcessGroupGloo headers include <gloo/...>
  # apps
  libopencv-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # test oracles only (fixture generators, torch.load round trips); never used at run time
  python3 python3-torch python3-torchvision python3-scipy python3-numpy
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PKGS[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
