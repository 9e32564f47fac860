// mmdet.models.backbones.ResNet (depth 18/34/50/101/152, style pytorch|caffe).
//
// Registered names equal mmdet's state-dict keys under `backbone.`:
// conv1, bn1, layer1..layerN (blocks "0".."k", see res_blocks.h). The stem is
// conv1 7x7/2 (no bias) + bn1 + ReLU + max_pool(3, 2, 1); stage i has width
// base_channels * 2^i (times 4 for Bottleneck) and stride strides[i].
//
// Training behaviour as mmdet:
//  - frozen_stages k >= 0: stem (k >= 0) and layer1..k get requires_grad=false at
//    construction and are put back in eval mode by every train() call;
//  - norm_eval: train(true) leaves every BatchNorm in eval mode (running stats frozen,
//    batch statistics unused) while the affine weights may still train (also applied
//    at construction, since a new module is in training mode);
//  - norm_requires_grad=false: BN affine parameters never train.
// Construction initialises like mmdet's default init_cfg (no pretrained weights):
// conv kaiming_normal(fan_out, relu), BN weight 1 bias 0, and with
// zero_init_residual the last BN weight of each block = 0.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "instseg/backbone/backbone.h"
#include "instseg/backbone/options.h"
#include "instseg/layers/folded_conv_bn.h"

namespace instseg {

class ResNetImpl : public BackboneImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options);

  // x: [N,in_channels,H,W] -> the outputs of the stages in out_indices, in stage order;
  // stage i: [N,out_channels()[j],H/stride_i,W/stride_i] (strides 4,8,16,32 by default,
  // spatial sizes rounded up at every stride-2 layer: (n + 1) / 2).
  std::vector<at::Tensor> forward(const at::Tensor& x) override;

  // Channels / total strides of the outputs (aligned with forward()'s result).
  std::vector<ShapeSpec> output_shapes() const override;
  std::vector<int64_t> out_channels() const;
  std::vector<int64_t> out_strides() const;

  // mmdet ResNet.train(mode): Module::train, then re-freeze frozen stages and, when
  // training with norm_eval, put every BatchNorm back in eval mode.
  void train(bool on = true) override;

  // mmdet default init (see above); called by the constructor.
  void reset_parameters();

  // The stem's conv1/bn1 and every block's conv -> BN pairs (res_blocks.h).
  void fold_batchnorm() override;
  void clear_folds() override;
  void set_fp32_stem(bool on) override { fp32_stem_ = on; }

  const ResNetOptions& options() const { return options_; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::vector<torch::nn::Sequential> layers;  // layer1..layerN

 private:
  void freeze_stages();
  template <typename F>
  void for_each_block(F f);
  ResNetOptions options_;
  FoldedConvBn stem_fold_;
  bool fp32_stem_ = false;  // set_fp32_stem
  bool bottleneck_ = false;
  std::vector<int64_t> stage_channels_;
  std::vector<int64_t> stage_strides_;
  std::vector<int64_t> out_stages_;  // sorted unique out_indices
};
TORCH_MODULE(ResNet);

// Blocks per stage for a depth: 18 {2,2,2,2}, 34 {3,4,6,3}, 50 {3,4,6,3},
// 101 {3,4,23,3}, 152 {3,8,36,3}; throws for other depths.
std::vector<int64_t> resnet_stage_blocks(int depth);
// True for 50/101/152 (Bottleneck), false for 18/34 (BasicBlock).
bool resnet_is_bottleneck(int depth);

}  // namespace instseg
