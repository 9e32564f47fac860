#!/usr/bin/env bash
# Builds DIR/libcudnn.so.9, a load-only stand-in for cuDNN, for check_trixie.sh
# cuda: trixie's libtorch-cuda needs libcudnn.so.9, which its nvidia-cudnn
# package downloads from NVIDIA at install time; where that fails (our machines
# reach only the Debian archive) no executable linked to LibTorch can load.
# The stub exports every cuDNN function that libtorch_cuda imports, under
# cuDNN's symbol version (libtorch_cuda is linked -z now: all must resolve at
# load), each returning CUDNN_STATUS_NOT_INITIALIZED (1001), the version
# queries 0. Without a GPU nothing calls cuDNN, so the cuda tests load, list
# their cases and skip. Never installed, never used where cuDNN exists.
#   bash scripts/make_cudnn_stub.sh DIR [LIBTORCH_CUDA]
set -euo pipefail
DIR="$1"
LIB="${2:-/usr/lib/x86_64-linux-gnu/libtorch_cuda.so}"
mkdir -p "$DIR"
nm -D --undefined-only "$LIB" | sed -n 's/.* \(cudnn[A-Za-z0-9_]*\)@libcudnn\.so\.9$/\1/p' | sort -u > "$DIR/symbols"
[ -s "$DIR/symbols" ] || { echo "make_cudnn_stub: $LIB imports no libcudnn.so.9 symbols" >&2; exit 1; }
{
  echo "/* load-only libcudnn.so.9 stand-in written by scripts/make_cudnn_stub.sh */"
  while read -r f; do
    case "$f" in
      cudnnGetErrorString) echo "const char* $f(int s) { (void)s; return \"cuDNN absent (make_cudnn_stub.sh)\"; }" ;;
      cudnnGetVersion | cudnnGetCudartVersion | cudnnGetMaxDeviceVersion) echo "unsigned long $f(void) { return 0; }" ;;
      *) echo "int $f(void) { return 1001; }" ;;
    esac
  done < "$DIR/symbols"
} > "$DIR/stub.c"
echo 'libcudnn.so.9 { global: *; };' > "$DIR/stub.map"
gcc -shared -fPIC -Wl,-soname,libcudnn.so.9 -Wl,--version-script="$DIR/stub.map" -o "$DIR/libcudnn.so.9" "$DIR/stub.c"
echo "make_cudnn_stub: $DIR/libcudnn.so.9 ($(wc -l < "$DIR/symbols") functions of $LIB)"
