// Helpers for the `cuda` tests (tests/<area>/test_*_cuda.cpp, one executable
// test_cuda labelled `cuda`): each compares a CUDA result with the CPU result
// of the same code on the same inputs, and skips where there is no CUDA device
// (a CPU-only LibTorch, or a CUDA build on a machine without a GPU).
#pragma once
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>

namespace instseg::test {

inline bool cuda_available() { return torch::cuda::is_available(); }

// cuDNN convolutions and cuBLAS matmuls in full fp32: PyTorch allows TF32 for
// cuDNN by default (torch.backends.cudnn.allow_tf32), which on Ampere and
// later rounds inputs to 10 mantissa bits; the parity tests compare with the
// CPU at fp32 tolerances.
inline void strict_fp32() {
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
}

// The same parameters and buffers (deep copies) on `device`.
inline void copy_module_state(torch::nn::Module& dst, const torch::nn::Module& src) {
  at::NoGradGuard ng;
  auto sp = src.named_parameters(true), dp = dst.named_parameters(true);
  for (const auto& p : sp) dp[p.key()].copy_(p.value());
  auto sb = src.named_buffers(true), db = dst.named_buffers(true);
  for (const auto& b : sb) db[b.key()].copy_(b.value());
}

}  // namespace instseg::test

// Skips the test without a CUDA device; else turns TF32 off (strict_fp32).
#define INSTSEG_REQUIRE_CUDA()                                                          \
  do {                                                                                  \
    if (!::instseg::test::cuda_available())                                             \
      GTEST_SKIP() << "no CUDA device (or a LibTorch without CUDA); skipping";          \
    ::instseg::test::strict_fp32();                                                     \
  } while (0)
