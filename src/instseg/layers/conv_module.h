// mmcv.cnn.ConvModule: conv -> (norm) -> (activation), order ('conv','norm','act').
//
// Registered names equal mmcv's state-dict keys: `conv`, and the norm as `bn`
// (BatchNorm / SyncBN) or `gn` (GroupNorm), mmcv build_norm_layer's abbreviations.
// So a head tower `kernel_convs.0` has keys kernel_convs.0.conv.weight,
// kernel_convs.0.gn.{weight,bias}. bias "auto" (unset) = no bias when a norm follows.
// The conv is built as mmcv's build_conv_layer(conv_cfg) builds it: a Conv2d, or
// a deformable conv (conv_cfg type 'DCNv2' / 'DCN', layers/deform_conv_pack.h),
// registered as `conv` too, so its keys are conv.weight, conv.conv_offset.*.
// Construction initialises like mmcv ConvModule.init_weights: a conv without an
// init_weights of its own (Conv2d, DCN) gets kaiming_normal (fan_out, relu) on
// its weight and bias 0; DCNv2 keeps its own init (uniform weight, zero offset
// conv); norm weight 1, bias 0. Owners re-init as upstream does (e.g. FPN
// xavier) via reset_parameters() of their own; conv_weight() / conv_bias()
// reach the weights whatever the conv type.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "instseg/core/compat.h"
#include "instseg/layers/deform_conv_pack.h"

namespace instseg {

struct ConvModuleOptions {
  ConvModuleOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  // conv_cfg.type: "Conv2d" (mmcv's None / 'Conv2d' / 'Conv'), "DCNv2"
  // (ModulatedDeformConv2dPack) or "DCN" (DeformConv2dPack, which has no bias).
  TORCH_ARG(std::string, conv) = "Conv2d";
  // conv_cfg.deform_groups (DCN / DCNv2 only).
  TORCH_ARG(int64_t, deform_groups) = 1;
  // Unset = mmcv bias='auto': a bias exactly when there is no norm layer.
  TORCH_ARG(instseg::optional<bool>, bias) = instseg::nullopt;
  // norm_cfg.type: "none", "BN", "SyncBN" (built as BN, named `bn`), "GN".
  TORCH_ARG(std::string, norm) = "none";
  // GroupNorm num_groups (norm_cfg num_groups); only with norm "GN".
  TORCH_ARG(int64_t, num_groups) = 32;
  // norm_cfg.requires_grad: false freezes the norm's affine parameters.
  TORCH_ARG(bool, norm_requires_grad) = true;
  // act_cfg.type: "none" or "relu" (mmcv default ReLU).
  TORCH_ARG(std::string, act) = "relu";
};

class ConvModuleImpl : public torch::nn::Module {
 public:
  explicit ConvModuleImpl(const ConvModuleOptions& options);

  // x: [N,in,H,W] -> [N,out,H',W'].
  at::Tensor forward(const at::Tensor& x);

  // mmcv ConvModule.init_weights (kaiming fan_out relu on conv, norm 1/0).
  void reset_parameters();

  bool with_norm() const { return !bn.is_empty() || !gn.is_empty(); }
  bool is_deformable() const { return !dcnv2.is_empty() || !dcn.is_empty(); }
  // The conv's weight [out, in/groups, k, k] and bias ([out] or undefined),
  // whichever conv type it is.
  const at::Tensor& conv_weight() const;
  const at::Tensor& conv_bias() const;
  // mmengine's init_cfg Normal(layer='Conv2d', std) as it reaches this module:
  // it initialises nn.Conv2d modules only, so a plain conv gets weight ~
  // N(0, std) and bias 0, while a deformable conv (not an nn.Conv2d) keeps its
  // weight and only its conv_offset (an nn.Conv2d) is drawn from N(0, std).
  void normal_init_conv2d(double std);
  bool with_bias() const { return with_bias_; }
  bool with_activation() const { return relu_; }
  const ConvModuleOptions& options() const { return options_; }

  // Exactly one of these three is set; each is registered as `conv`.
  torch::nn::Conv2d conv{nullptr};                 // conv "Conv2d"
  ModulatedDeformConv2dPack dcnv2{nullptr};        // conv "DCNv2"
  DeformConv2dPack dcn{nullptr};                   // conv "DCN"
  torch::nn::BatchNorm2d bn{nullptr};  // norm "BN"/"SyncBN"
  torch::nn::GroupNorm gn{nullptr};    // norm "GN"

 private:
  ConvModuleOptions options_;
  bool with_bias_ = false;
  bool relu_ = false;
};
TORCH_MODULE(ConvModule);

}  // namespace instseg
