// The backbone seam: what a detector needs from its backbone, whatever the
// network (ResNet today; ResNeXt, DCN ResNets, ... are added behind it).
//
//   std::shared_ptr<BackboneImpl> b = build_backbone(spec);   // build_backbone.h
//   std::vector<at::Tensor> c = b->forward(images);           // C2..C5
//   std::vector<ShapeSpec> s = b->output_shapes();            // {256, 4}, {512, 8}, ...
//
// Detectors register it as "backbone" (mmdetection's state-dict prefix) and
// size their neck from output_shapes() (neck_options_for below).
#pragma once
#include "instseg/backbone/options.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// One output level of a backbone (detectron2's ShapeSpec): its channels and
// its total stride relative to the input image.
struct ShapeSpec {
  int64_t channels = 0;
  int64_t stride = 0;
  bool operator==(const ShapeSpec& o) const { return channels == o.channels && stride == o.stride; }
};

class BackboneImpl : public torch::nn::Module {
 public:
  // images [N,C,H,W] -> one feature map per output level, finest first:
  // level i is [N, output_shapes()[i].channels, ~H/stride_i, ~W/stride_i].
  virtual std::vector<at::Tensor> forward(const at::Tensor& images) = 0;
  // The levels forward() returns, in the same order.
  virtual std::vector<ShapeSpec> output_shapes() const = 0;
  // "C2".."C5": C<log2 stride> per level (the FPN paper's names); used for
  // captured intermediates ("backbone.c2") and in messages.
  std::vector<std::string> output_names() const;
  // Inference only (inference_model.h's prepare_for_inference): fold every
  // eval-mode BatchNorm into the convolution before it (layers/folded_conv_bn.h).
  // The state dict is untouched, and a fold is used only in eval mode while
  // its weights are unchanged. Backbones without BatchNorm do nothing.
  virtual void fold_batchnorm() {}
  virtual void clear_folds() {}
  // Inference only, under autocast (prepare_for_inference): the stem's first
  // convolution reads the fp32 image and runs in fp32 instead of rounding the
  // normalised pixels to bf16's 8-bit mantissa. With the neck's outputs in
  // fp32 too, it took the nuclei reference model's bf16-vs-fp32 mean mask IoU
  // from 0.979 to 0.995 (docs/performance.md, "Found and fixed: bf16 features
  // feeding the heads"). It is ~3 % of a ResNet's FLOPs. No effect without autocast.
  virtual void set_fp32_stem(bool /*on*/) {}
};

// `neck` with in_channels from the backbone's levels: filled in when empty,
// otherwise checked, throwing "<owner>: neck.in_channels [..] do not match the
// backbone's output channels [..] (<backbone>)" so that a config pairing,
// e.g., a ResNet-18 with R50's FPN fails at construction with the fix.
FPNOptions neck_options_for(FPNOptions neck, const std::vector<ShapeSpec>& backbone_levels,
                            const std::string& owner, const std::string& backbone_name);

}  // namespace instseg
