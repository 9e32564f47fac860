// SOLOv2's kernel and category branches (mmdet SOLOV2Head.forward), shared
// across the five levels, plus the mask feature branch.
//   inputs: P2..P6; P2 bilinearly resized to P3's size, P6 to P5's
//   (SOLOHead.resize_feats); per level: + CoordConv [x, y], bilinear resize to
//   S x S, kernel branch (with coords) and category branch (without).
// Keys (= mmdet's under `mask_head.`): kernel_convs.{i}.{conv,gn}, cls_convs.{i}.{conv,gn},
// conv_kernel, conv_cls, mask_feature_head.*
#pragma once
#include "instseg/layers/conv_module.h"
#include "instseg/solov2/mask_feat_head.h"
#include "instseg/solov2/options.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <vector>

namespace instseg {

struct SOLOv2HeadOutputs {
  std::vector<at::Tensor> kernel_preds;  // per level [B,D,S,S]
  std::vector<at::Tensor> cls_preds;     // per level [B,num_classes,S,S] logits
  at::Tensor mask_feats;                 // [B,D,H/4,W/4] (padded input / mask_stride)
};

class SOLOv2HeadImpl : public torch::nn::Module {
 public:
  explicit SOLOv2HeadImpl(const SOLOv2HeadOptions& options);

  // feats: num_levels FPN maps [B,in_channels,H_l,W_l] (P2..P6).
  SOLOv2HeadOutputs forward(const std::vector<at::Tensor>& feats);

  // mmdet init_cfg: Normal(0, 0.01) on every Conv2d of the towers and
  // predictors (bias 0), conv_cls bias = -log(99) (prior 0.01).
  void reset_parameters();

  const SOLOv2HeadOptions& options() const { return options_; }

  // Inference under autocast: the category branch (cls_convs + conv_cls) runs
  // in fp32 while the kernel and mask feature branches stay in bf16/fp16. The
  // category probabilities are SOLOv2's detection scores before Matrix NMS;
  // in bf16 they cross the score threshold often enough to cost ~2 % mean mask
  // IoU against fp32 on COCO photos, and neither other branch matters
  // (docs/performance.md, "bf16: the category branch in fp32"). No effect
  // without autocast. Set by prepare_for_inference.
  void set_fp32_category(bool on) { fp32_category_ = on; }
  bool fp32_category() const { return fp32_category_; }

  torch::nn::ModuleList kernel_convs{nullptr};
  torch::nn::ModuleList cls_convs{nullptr};
  torch::nn::Conv2d conv_kernel{nullptr};
  torch::nn::Conv2d conv_cls{nullptr};
  MaskFeatModule mask_feature_head{nullptr};

 private:
  SOLOv2HeadOptions options_;
  std::vector<ConvModule> kernel_tower_, cls_tower_;
  bool fp32_category_ = false;  // set_fp32_category
};
TORCH_MODULE(SOLOv2Head);

}  // namespace instseg
