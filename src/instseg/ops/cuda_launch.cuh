// Launch geometry shared by the CUDA kernels of ops/ (one thread per element,
// grid-stride loops): threads per block, and blocks for n elements capped so
// that very large tensors loop instead of exceeding the grid limit.
#pragma once
#include <cstdint>

namespace instseg::detail {

constexpr int kThreads = 256;

inline int num_blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 8 ? b : 65535 * 8);
}

}  // namespace instseg::detail
