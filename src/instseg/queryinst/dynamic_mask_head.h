// DynamicMaskHead (mmdet roi_heads/mask_heads/dynamic_mask_head.py): QueryInst's
// per-stage mask branch. DynamicConv (no projection) of the query's
// attention features with its 14x14 RoI features, 4x [3x3 conv + BN + ReLU],
// 2x deconv + ReLU, 1x1 conv to per-class 28x28 logits.
//
// Registered names = mmdet keys under roi_head.mask_head.<s>:
// instance_interactive_conv.*, convs.<i>.conv / convs.<i>.bn, upsample, conv_logits.
#pragma once
#include "instseg/layers/conv_module.h"
#include "instseg/queryinst/dynamic_conv.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace instseg {

struct DynamicMaskHeadOptions {
  int64_t num_convs = 4;
  int64_t roi_feat_size = 14;
  int64_t in_channels = 256;
  int64_t conv_kernel_size = 3;
  int64_t conv_out_channels = 256;
  int64_t num_classes = 80;
  std::string norm = "BN";  // norm_cfg of the convs
  // The official QueryInst repo's checkpoints carry convs.<i>.conv.bias; mmdet's do not.
  bool conv_bias = false;
  DynamicConvOptions dynamic_conv{256, 64, 256, 14, false};
};

class DynamicMaskHeadImpl : public torch::nn::Module {
 public:
  explicit DynamicMaskHeadImpl(const DynamicMaskHeadOptions& options);
  // roi_feat [n, C, 14, 14], proposal_feat [n, C] (or [B,N,C], flattened) ->
  // mask logits [n, num_classes, 28, 28].
  at::Tensor forward(const at::Tensor& roi_feat, const at::Tensor& proposal_feat);
  // mmdet init: xavier_uniform on every parameter with dim > 1, conv_logits bias 0.
  void reset_parameters();
  const DynamicMaskHeadOptions& options() const { return options_; }

  DynamicConv instance_interactive_conv{nullptr};
  torch::nn::ModuleList convs{nullptr};  // ConvModule each
  torch::nn::ConvTranspose2d upsample{nullptr};
  torch::nn::Conv2d conv_logits{nullptr};

 private:
  DynamicMaskHeadOptions options_;
};
TORCH_MODULE(DynamicMaskHead);

}  // namespace instseg
