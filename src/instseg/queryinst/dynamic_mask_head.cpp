#include "instseg/queryinst/dynamic_mask_head.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

namespace instseg {

DynamicMaskHeadImpl::DynamicMaskHeadImpl(const DynamicMaskHeadOptions& options)
    : options_(options) {
  const auto& o = options_;
  INSTSEG_CHECK(!o.dynamic_conv.with_proj, "DynamicMaskHead: dynamic_conv must not project");
  INSTSEG_CHECK(o.dynamic_conv.in_channels == o.in_channels,
                "DynamicMaskHead: dynamic_conv.in_channels != in_channels");
  instance_interactive_conv =
      register_module("instance_interactive_conv", DynamicConv(o.dynamic_conv));
  convs = register_module("convs", torch::nn::ModuleList());
  int64_t c = o.in_channels;
  for (int64_t i = 0; i < o.num_convs; ++i) {
    ConvModuleOptions co(c, o.conv_out_channels, o.conv_kernel_size);
    co.padding((o.conv_kernel_size - 1) / 2).norm(o.norm).act("relu");
    if (o.conv_bias) co.bias(true);
    convs->push_back(ConvModule(co));
    c = o.conv_out_channels;
  }
  upsample = register_module(
      "upsample", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(c, c, 2).stride(2)));
  conv_logits = register_module("conv_logits", torch::nn::Conv2d(c, o.num_classes, 1));
  reset_parameters();
}

void DynamicMaskHeadImpl::reset_parameters() {
  torch::NoGradGuard ng;
  for (auto& p : parameters()) {
    if (p.dim() > 1) torch::nn::init::xavier_uniform_(p);
  }
  conv_logits->bias.zero_();
}

at::Tensor DynamicMaskHeadImpl::forward(const at::Tensor& roi_feat,
                                        const at::Tensor& proposal_feat) {
  const auto& o = options_;
  INSTSEG_CHECK(roi_feat.dim() == 4 && roi_feat.size(1) == o.in_channels,
                "DynamicMaskHead: roi_feat must be [n,", o.in_channels, ",S,S], got ",
                roi_feat.sizes());
  auto q = proposal_feat.reshape({-1, o.in_channels});
  // [n, S*S, C] -> [n, C, S, S]
  auto x = instance_interactive_conv(q, roi_feat).permute({0, 2, 1}).reshape(roi_feat.sizes());
  for (const auto& m : *convs) x = m->as<ConvModule>()->forward(x);
  x = at::relu(upsample(x));
  return conv_logits(x);
}

}  // namespace instseg
