#include "instseg/layers/conv_module.h"

#include "instseg/layers/autocast_norm.h"

#include <ATen/ATen.h>

#include "instseg/core/check.h"
#include "instseg/layers/weight_init.h"

namespace instseg {

ConvModuleImpl::ConvModuleImpl(const ConvModuleOptions& options) : options_(options) {
  const auto& o = options_;
  INSTSEG_CHECK(o.in_channels() > 0 && o.out_channels() > 0 && o.kernel_size() > 0,
                "ConvModule: bad channels/kernel ", o.in_channels(), "->", o.out_channels(),
                " k", o.kernel_size());
  INSTSEG_CHECK(o.norm() == "none" || o.norm() == "BN" || o.norm() == "SyncBN" || o.norm() == "GN",
                "ConvModule: unsupported norm '", o.norm(), "' (none|BN|SyncBN|GN)");
  INSTSEG_CHECK(o.act() == "none" || o.act() == "relu" || o.act() == "ReLU",
                "ConvModule: unsupported act '", o.act(), "' (none|relu)");
  INSTSEG_CHECK(o.conv() == "Conv2d" || o.conv() == "DCNv2" || o.conv() == "DCN",
                "ConvModule: unsupported conv '", o.conv(), "' (Conv2d|DCNv2|DCN)");
  const bool has_norm = o.norm() != "none";
  with_bias_ = o.bias().has_value() ? *o.bias() : !has_norm;
  relu_ = o.act() != "none";

  if (o.conv() == "Conv2d") {
    conv = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(),
                                                           o.kernel_size())
                                      .stride(o.stride())
                                      .padding(o.padding())
                                      .dilation(o.dilation())
                                      .groups(o.groups())
                                      .bias(with_bias_)));
  } else {
    auto d = DeformConvPackOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                 .stride(o.stride())
                 .padding(o.padding())
                 .dilation(o.dilation())
                 .groups(o.groups())
                 .deform_groups(o.deform_groups())
                 .bias(with_bias_);
    if (o.conv() == "DCNv2") {
      dcnv2 = register_module("conv", ModulatedDeformConv2dPack(d));
    } else {
      INSTSEG_CHECK(!with_bias_, "ConvModule: conv_cfg DCN (DeformConv2dPack) has no bias; "
                                 "bias='auto' gives one without a norm layer: add a norm or set "
                                 "bias=False (or use DCNv2)");
      dcn = register_module("conv", DeformConv2dPack(d));
    }
  }
  if (o.norm() == "GN") {
    INSTSEG_CHECK(o.num_groups() > 0 && o.out_channels() % o.num_groups() == 0,
                  "ConvModule: GN num_groups ", o.num_groups(), " does not divide ",
                  o.out_channels(), " channels");
    gn = register_module("gn", torch::nn::GroupNorm(
                                   torch::nn::GroupNormOptions(o.num_groups(), o.out_channels())));
    for (auto& p : gn->parameters()) p.set_requires_grad(o.norm_requires_grad());
  } else if (has_norm) {
    // torch defaults eps 1e-5, momentum 0.1, track_running_stats (num_batches_tracked).
    bn = register_module("bn", torch::nn::BatchNorm2d(o.out_channels()));
    for (auto& p : bn->parameters()) p.set_requires_grad(o.norm_requires_grad());
  }
  reset_parameters();
}

const at::Tensor& ConvModuleImpl::conv_weight() const {
  if (!dcnv2.is_empty()) return dcnv2->weight;
  if (!dcn.is_empty()) return dcn->weight;
  return conv->weight;
}

const at::Tensor& ConvModuleImpl::conv_bias() const {
  static const at::Tensor none;
  if (!dcnv2.is_empty()) return dcnv2->bias;
  if (!dcn.is_empty()) return none;
  return conv->bias;
}

void ConvModuleImpl::normal_init_conv2d(double std) {
  if (!dcnv2.is_empty()) {
    normal_init(dcnv2->conv_offset->weight, dcnv2->conv_offset->bias, 0.0, std, 0.0);
  } else if (!dcn.is_empty()) {
    normal_init(dcn->conv_offset->weight, dcn->conv_offset->bias, 0.0, std, 0.0);
  } else {
    normal_init(conv->weight, conv->bias, 0.0, std, 0.0);
  }
}

void ConvModuleImpl::reset_parameters() {
  if (!dcnv2.is_empty()) {
    // mmcv: the conv has its own init_weights, which ConvModule leaves alone.
    dcnv2->reset_parameters();
  } else if (!dcn.is_empty()) {
    // DeformConv2dPack has no init_weights, so mmcv's ConvModule kaiming-inits
    // its weight (conv_offset keeps its zeros).
    dcn->reset_parameters();
    kaiming_init(dcn->weight, at::Tensor(), 0.0, "fan_out", "relu", "normal", 0.0);
  } else {
    kaiming_init(conv->weight, with_bias_ ? conv->bias : at::Tensor(), 0.0, "fan_out", "relu",
                 "normal", 0.0);
  }
  if (!bn.is_empty()) constant_init(bn->weight, bn->bias, 1.0, 0.0);
  if (!gn.is_empty()) constant_init(gn->weight, gn->bias, 1.0, 0.0);
}

at::Tensor ConvModuleImpl::forward(const at::Tensor& x) {
  INSTSEG_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(),
                "ConvModule: expected [N,", options_.in_channels(), ",H,W] input, got ", x.sizes());
  at::Tensor y;
  if (!dcnv2.is_empty()) {
    y = dcnv2->forward(x);
  } else if (!dcn.is_empty()) {
    y = dcn->forward(x);
  } else {
    // instseg::conv2d (core/compat.h): LibTorch 2.6's oneDNN miscomputes CPU
    // convolutions of C+2 channels (SOLOv2's CoordConv layers) unless padded.
    const int64_t s = options_.stride(), p = options_.padding(), d = options_.dilation();
    y = instseg::conv2d(x, conv->weight, conv->bias, {s, s}, {p, p}, {d, d}, options_.groups());
  }
  if (!bn.is_empty()) y = bn->forward(y);
  if (!gn.is_empty()) {
    y = norm_in_param_dtype(gn, y);  // fp32 under CPU autocast (autocast_norm.h)
  }
  if (relu_) y = at::relu(y);
  return y;
}

}  // namespace instseg
