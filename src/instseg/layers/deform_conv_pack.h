// Deformable convolution layers that act like a Conv2d: they predict their own
// offsets (and masks) from the input with a plain conv, as mmcv's
//  - ModulatedDeformConv2dPack (conv_cfg type 'DCNv2'): conv_offset is a Conv2d
//    to 3*dg*kh*kw channels; its output is chunked into (o1, o2, m) along the
//    channels, offset = cat(o1, o2), mask = sigmoid(m). Note that the op reads
//    the offset as (dy, dx) per tap, so o1 holds the dy and dx of the first
//    half of the taps: mmcv's layout, kept for its checkpoints.
//  - DeformConv2dPack (conv_cfg type 'DCN', DCNv1): conv_offset to 2*dg*kh*kw
//    channels, no mask, and no bias (mmcv rejects bias=True).
// conv_offset has the same kernel, stride, padding and dilation as the layer,
// one group and a bias, and starts at zero (so a fresh layer samples the plain
// convolution grid). Keys, as mmcv's: weight, [bias], conv_offset.weight,
// conv_offset.bias; inside a ConvModule `conv.weight`, `conv.conv_offset.weight`...
//
// Shapes: x [N, in, H, W] -> [N, out, Ho, Wo] (Ho, Wo as for a Conv2d).
#pragma once
#include <torch/expanding_array.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "instseg/ops/deform_conv.h"

namespace instseg {

struct DeformConvPackOptions {
  DeformConvPackOptions(int64_t in_channels, int64_t out_channels,
                        torch::ExpandingArray<2> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(int64_t, deform_groups) = 1;
  // mmcv defaults: true for ModulatedDeformConv2d; DeformConv2d requires false.
  TORCH_ARG(bool, bias) = true;
};

// DCNv2 (mmcv ModulatedDeformConv2dPack).
class ModulatedDeformConv2dPackImpl : public torch::nn::Module {
 public:
  explicit ModulatedDeformConv2dPackImpl(const DeformConvPackOptions& options);

  at::Tensor forward(const at::Tensor& x);

  // mmcv init_weights: weight ~ U(-s, s) with s = 1/sqrt(in_channels*kh*kw)
  // (all input channels, whatever the groups), bias 0, conv_offset 0.
  void reset_parameters();

  const DeformConvPackOptions& options() const { return options_; }
  DeformConvOptions op_options() const;

  at::Tensor weight;  // [out, in/groups, kh, kw]
  at::Tensor bias;    // [out] or undefined
  torch::nn::Conv2d conv_offset{nullptr};

 private:
  DeformConvPackOptions options_;
};
TORCH_MODULE(ModulatedDeformConv2dPack);

// DCNv1 (mmcv DeformConv2dPack).
class DeformConv2dPackImpl : public torch::nn::Module {
 public:
  explicit DeformConv2dPackImpl(const DeformConvPackOptions& options);

  at::Tensor forward(const at::Tensor& x);

  // mmcv DeformConv2d.reset_parameters: kaiming_uniform_(weight, relu) (fan_in);
  // conv_offset 0 (init_offset).
  void reset_parameters();

  const DeformConvPackOptions& options() const { return options_; }
  DeformConvOptions op_options() const;

  at::Tensor weight;  // [out, in/groups, kh, kw]
  torch::nn::Conv2d conv_offset{nullptr};

 private:
  DeformConvPackOptions options_;
};
TORCH_MODULE(DeformConv2dPack);

}  // namespace instseg
