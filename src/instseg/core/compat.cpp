#include "instseg/core/compat.h"

#include <torch/enum.h>
#include <torch/nn/modules/conv.h>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
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

namespace {

// The dtype a CPU convolution computes in: CPU autocast runs fp32 convolutions
// in its dtype (bf16), inside at::conv2d.
at::ScalarType conv_compute_dtype(const at::Tensor& input) {
  const auto t = input.scalar_type();
  if (t != at::kFloat || !input.device().is_cpu()) return t;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  if (at::autocast::is_autocast_enabled(at::kCPU)) return at::autocast::get_autocast_dtype(at::kCPU);
#else
  if (at::autocast::is_cpu_enabled()) return at::autocast::get_autocast_cpu_dtype();
#endif
  return t;
}

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

}  // namespace

Conv2dPadding conv2d_padding(const at::Tensor& input, const at::Tensor& weight, int64_t groups) {
  Conv2dPadding p;
  if (!INSTSEG_TORCH2) return p;
  if (!input.device().is_cpu() || groups != 1 || input.dim() != 4 || weight.dim() != 4) return p;
  const auto t = conv_compute_dtype(input);
  if (t != at::kFloat && t != at::kBFloat16) return p;
  const int64_t c = input.size(1), co = weight.size(0);
  if (weight.size(1) != c) return p;
  if (c > kOneDnnChannelBlock && c % kOneDnnChannelBlock != 0) p.in = round_up(c, kOneDnnChannelBlock) - c;
  if (t == at::kBFloat16 && co % kOneDnnChannelBlock != 0) p.out = round_up(co, kOneDnnChannelBlock) - co;
  return p;
}

bool conv2d_pads_channels(const at::Tensor& input, const at::Tensor& weight, int64_t groups) {
  const Conv2dPadding p = conv2d_padding(input, weight, groups);
  return p.in > 0 || p.out > 0;
}

at::Tensor conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                  c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                  int64_t groups) {
  const Conv2dPadding p = conv2d_padding(input, weight, groups);
  if (p.in == 0 && p.out == 0) return at::conv2d(input, weight, bias, stride, padding, dilation, groups);
  at::Tensor x = input, w = weight, b = bias;
  // constant_pad_nd pads the last dimensions first: (W, W, H, H, C, C) for the
  // input; the weight [Co, C, kh, kw] gets (kw, kw, kh, kh, C, C, Co, Co).
  if (p.in > 0) x = at::constant_pad_nd(x, {0, 0, 0, 0, 0, p.in}, 0);
  w = at::constant_pad_nd(w, {0, 0, 0, 0, 0, p.in, 0, p.out}, 0);
  if (b.defined() && p.out > 0) b = at::constant_pad_nd(b, {0, p.out}, 0);
  at::Tensor y = at::conv2d(x, w, b, stride, padding, dilation, groups);
  return p.out > 0 ? y.slice(1, 0, weight.size(0)) : y;
}

std::optional<std::array<int64_t, 2>> conv2d_explicit_padding(const torch::nn::Conv2dImpl& conv) {
  if (torch::enumtype::get_enum_name(conv.options.padding_mode()) != "kZeros") return std::nullopt;
#if INSTSEG_TORCH2
  const auto* p = std::get_if<torch::ExpandingArray<2>>(&conv.options.padding());
#else
  const auto* p = c10::get_if<torch::ExpandingArray<2>>(&conv.options.padding());
#endif
  if (p == nullptr) return std::nullopt;
  return std::array<int64_t, 2>{(**p)[0], (**p)[1]};
}

}  // namespace instseg
