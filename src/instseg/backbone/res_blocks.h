// The residual blocks of mmdet.models.backbones.resnet (BasicBlock, Bottleneck)
// and ResLayer (a stage). Registered names equal mmdet's state-dict keys:
// conv1, bn1, conv2, bn2[, conv3, bn3], downsample.0 (1x1 conv), downsample.1 (BN).
// Convs have no bias (a BN follows every conv).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "instseg/layers/deform_conv_pack.h"
#include "instseg/layers/folded_conv_bn.h"

namespace instseg {

struct ResBlockOptions {
  int64_t inplanes = 64;
  int64_t planes = 64;          // inner width; output = planes * expansion
  int64_t stride = 1;
  int64_t dilation = 1;
  bool downsample = false;      // 1x1 conv (stride) + BN on the identity path
  std::string style = "pytorch";  // Bottleneck: "pytorch" strides conv2, "caffe" conv1
  // Bottleneck only. ResNeXt: conv2 groups and the inner width
  // floor(planes * base_width / base_channels) * groups (planes when groups == 1).
  int64_t groups = 1;
  int64_t base_width = 4;
  int64_t base_channels = 64;
  // conv2 as mmdet's `dcn` builds it: "Conv2d", "DCNv2" or "DCN".
  std::string conv2_type = "Conv2d";
  int64_t deform_groups = 1;
};

// Expansion 1: 3x3(stride) -> BN -> ReLU -> 3x3 -> BN, + identity, ReLU.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  explicit BasicBlockImpl(const ResBlockOptions& options);
  // x: [N,inplanes,H,W] -> [N,planes,H/stride,W/stride]
  at::Tensor forward(const at::Tensor& x);
  // The norm zero_init_residual zeroes (mmdet: norm2).
  torch::nn::BatchNorm2d last_norm() const { return bn2; }
  // Inference: every conv -> BN pair as one convolution (layers/folded_conv_bn.h;
  // used in eval mode while the weights are unchanged). clear_folds() undoes it.
  void fold_batchnorm();
  void clear_folds();

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};

 private:
  FoldedConvBn fold1_, fold2_, fold_down_;
};
TORCH_MODULE(BasicBlock);

// Expansion 4: 1x1 -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 -> BN, + identity, ReLU.
// The 3x3 (conv2) may be grouped (ResNeXt) and deformable (dcn); a deformable
// conv2 is registered as `conv2` too (keys conv2.weight, conv2.conv_offset.*).
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  explicit BottleneckImpl(const ResBlockOptions& options);
  // x: [N,inplanes,H,W] -> [N,4*planes,H/stride,W/stride]
  at::Tensor forward(const at::Tensor& x);
  torch::nn::BatchNorm2d last_norm() const { return bn3; }
  // mmcv's own init of a deformable conv2 (what mmengine's init_weights
  // recursion calls after ResNet's Kaiming init_cfg); no-op for a plain conv2.
  void reset_deformable_conv2();
  // Inference: conv1/bn1, a plain conv2/bn2, conv3/bn3 and the downsample as
  // single convolutions (layers/folded_conv_bn.h); a deformable conv2 keeps
  // its BatchNorm. clear_folds() undoes it.
  void fold_batchnorm();
  void clear_folds();

  // Exactly one of conv2 / conv2_dcnv2 / conv2_dcn is set.
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  ModulatedDeformConv2dPack conv2_dcnv2{nullptr};
  DeformConv2dPack conv2_dcn{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};

 private:
  FoldedConvBn fold1_, fold2_, fold3_, fold_down_;
};
TORCH_MODULE(Bottleneck);

// mmdet ResLayer: `num_blocks` blocks named "0".."n-1"; block 0 carries the stride and
// the downsample (when stride != 1 or inplanes != planes * expansion).
// bottleneck=false: BasicBlock.
// `block` carries style, groups, base_width and conv2_type for every block.
torch::nn::Sequential make_res_layer(bool bottleneck, int64_t inplanes, int64_t planes,
                                     int64_t num_blocks, int64_t stride, int64_t dilation,
                                     const ResBlockOptions& block);

}  // namespace instseg
