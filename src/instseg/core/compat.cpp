#include "instseg/core/compat.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace instseg {

namespace {
constexpr int64_t kOneDnnChannelBlock = 16;  // AVX-512 fp32/bf16 channel block
}  // namespace

bool tcpstore_use_classic_backend(c10d::TCPStoreOptions& options) {
#if INSTSEG_TORCH2
  options.useLibUV = false;
  return true;
#else
  (void)options;
  return false;
#endif
}

bool conv2d_pads_channels(const at::Tensor& input, const at::Tensor& weight, int64_t groups) {
  if (!INSTSEG_TORCH2) return false;
  if (!input.device().is_cpu() || groups != 1 || input.dim() != 4 || weight.dim() != 4) return false;
  const auto t = input.scalar_type();
  if (t != at::kFloat && t != at::kBFloat16) return false;
  const int64_t c = input.size(1);
  return c > kOneDnnChannelBlock && c % kOneDnnChannelBlock != 0 && weight.size(1) == c;
}

at::Tensor conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                  c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                  int64_t groups) {
  if (!conv2d_pads_channels(input, weight, groups))
    return at::conv2d(input, weight, bias, stride, padding, dilation, groups);
  const int64_t extra = kOneDnnChannelBlock - input.size(1) % kOneDnnChannelBlock;
  // constant_pad_nd pads the last dimensions first: (W, W, H, H, C, C).
  const std::vector<int64_t> pad{0, 0, 0, 0, 0, extra};
  return at::conv2d(at::constant_pad_nd(input, pad, 0), at::constant_pad_nd(weight, pad, 0), bias, stride,
                    padding, dilation, groups);
}

}  // namespace instseg
