#include "instseg/layers/deform_conv_pack.h"

#include "instseg/core/compat.h"

#include <ATen/ATen.h>

#include <cmath>

#include "instseg/core/check.h"
#include "instseg/layers/weight_init.h"

namespace instseg {

namespace {

void check_options(const DeformConvPackOptions& o, const char* what) {
  const auto& k = *o.kernel_size();
  INSTSEG_CHECK(o.in_channels() > 0 && o.out_channels() > 0 && k[0] > 0 && k[1] > 0, what,
                ": bad channels/kernel ", o.in_channels(), "->", o.out_channels(), " k", k[0], "x",
                k[1]);
  INSTSEG_CHECK(o.groups() > 0 && o.in_channels() % o.groups() == 0 &&
                    o.out_channels() % o.groups() == 0,
                what, ": groups ", o.groups(), " must divide in_channels ", o.in_channels(),
                " and out_channels ", o.out_channels());
  INSTSEG_CHECK(o.deform_groups() > 0 && o.in_channels() % o.deform_groups() == 0, what,
                ": deform_groups ", o.deform_groups(), " must divide in_channels ",
                o.in_channels());
}

DeformConvOptions to_op(const DeformConvPackOptions& o) {
  DeformConvOptions d;
  d.stride = {(*o.stride())[0], (*o.stride())[1]};
  d.padding = {(*o.padding())[0], (*o.padding())[1]};
  d.dilation = {(*o.dilation())[0], (*o.dilation())[1]};
  d.groups = o.groups();
  d.deform_groups = o.deform_groups();
  return d;
}

// The offset conv: same geometry as the layer, one group, with bias.
torch::nn::Conv2d make_conv_offset(const DeformConvPackOptions& o, int64_t per_tap) {
  const auto& k = *o.kernel_size();
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(o.in_channels(), o.deform_groups() * per_tap * k[0] * k[1],
                               o.kernel_size())
          .stride(o.stride())
          .padding(o.padding())
          .dilation(o.dilation())
          .bias(true));
}

at::Tensor make_weight(const DeformConvPackOptions& o) {
  const auto& k = *o.kernel_size();
  return at::empty({o.out_channels(), o.in_channels() / o.groups(), k[0], k[1]});
}

// conv_offset's forward through instseg::conv2d (core/compat.h): on LibTorch
// 2.6 oneDNN miscomputes CPU convolutions of >16, non-multiple-of-16 input
// channels, which a DCN layer on CoordConv features (C + 2 channels, SOLOv2's
// dcn_apply_to_all_conv) would feed it.
// The offset conv has the layer's geometry and one group (make_conv_offset).
at::Tensor offset_forward(const torch::nn::Conv2d& c, const DeformConvPackOptions& o, const at::Tensor& x) {
  const auto& st = *o.stride();
  const auto& pa = *o.padding();
  const auto& di = *o.dilation();
  return instseg::conv2d(x, c->weight, c->bias, {st[0], st[1]}, {pa[0], pa[1]}, {di[0], di[1]}, 1);
}

void zero_offset_conv(torch::nn::Conv2d& c) {
  torch::NoGradGuard no_grad;
  c->weight.zero_();
  c->bias.zero_();
}

}  // namespace

ModulatedDeformConv2dPackImpl::ModulatedDeformConv2dPackImpl(const DeformConvPackOptions& options)
    : options_(options) {
  check_options(options_, "ModulatedDeformConv2dPack");
  weight = register_parameter("weight", make_weight(options_));
  if (options_.bias()) bias = register_parameter("bias", at::empty({options_.out_channels()}));
  conv_offset = register_module("conv_offset", make_conv_offset(options_, 3));
  reset_parameters();
}

void ModulatedDeformConv2dPackImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const auto& k = *options_.kernel_size();
  const double stdv = 1.0 / std::sqrt(static_cast<double>(options_.in_channels() * k[0] * k[1]));
  weight.uniform_(-stdv, stdv);
  if (bias.defined()) bias.zero_();
  zero_offset_conv(conv_offset);
}

DeformConvOptions ModulatedDeformConv2dPackImpl::op_options() const { return to_op(options_); }

at::Tensor ModulatedDeformConv2dPackImpl::forward(const at::Tensor& x) {
  INSTSEG_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(),
                "ModulatedDeformConv2dPack: expected [N,", options_.in_channels(),
                ",H,W] input, got ", x.sizes());
  auto parts = offset_forward(conv_offset, options_, x).chunk(3, 1);
  auto offset = at::cat({parts[0], parts[1]}, 1);
  auto mask = at::sigmoid(parts[2]);
  return modulated_deform_conv2d(x, offset, mask, weight, bias, to_op(options_));
}

DeformConv2dPackImpl::DeformConv2dPackImpl(const DeformConvPackOptions& options)
    : options_(options) {
  check_options(options_, "DeformConv2dPack");
  INSTSEG_CHECK(!options_.bias(),
                "DeformConv2dPack (DCN): bias=True is not supported (mmcv's DeformConv2d has no "
                "bias; use it with a norm layer or bias=False, or use DCNv2)");
  weight = register_parameter("weight", make_weight(options_));
  conv_offset = register_module("conv_offset", make_conv_offset(options_, 2));
  reset_parameters();
}

void DeformConv2dPackImpl::reset_parameters() {
  kaiming_init(weight, at::Tensor(), 0.0, "fan_in", "relu", "uniform");
  zero_offset_conv(conv_offset);
}

DeformConvOptions DeformConv2dPackImpl::op_options() const { return to_op(options_); }

at::Tensor DeformConv2dPackImpl::forward(const at::Tensor& x) {
  INSTSEG_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(),
                "DeformConv2dPack: expected [N,", options_.in_channels(), ",H,W] input, got ",
                x.sizes());
  return deform_conv2d(x, offset_forward(conv_offset, options_, x), weight, to_op(options_));
}

}  // namespace instseg
