#include "instseg/queryinst/dynamic_conv.h"

#include "instseg/core/check.h"
#include "instseg/layers/autocast_norm.h"

#include <ATen/ATen.h>

namespace instseg {

DynamicConvImpl::DynamicConvImpl(const DynamicConvOptions& options) : options_(options) {
  if (options_.out_channels < 0) options_.out_channels = options_.in_channels;
  const auto& o = options_;
  INSTSEG_CHECK(o.in_channels > 0 && o.feat_channels > 0 && o.input_feat_shape > 0,
                "DynamicConv: channels and input_feat_shape must be > 0");
  num_params_in_ = o.in_channels * o.feat_channels;
  num_params_out_ = o.out_channels * o.feat_channels;
  dynamic_layer = register_module(
      "dynamic_layer", torch::nn::Linear(o.in_channels, num_params_in_ + num_params_out_));
  norm_in = register_module("norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.feat_channels})));
  norm_out =
      register_module("norm_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.out_channels})));
  if (o.with_proj) {
    const int64_t n = o.out_channels * o.input_feat_shape * o.input_feat_shape;
    fc_layer = register_module("fc_layer", torch::nn::Linear(n, o.out_channels));
    fc_norm = register_module("fc_norm",
                              torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.out_channels})));
  }
}

at::Tensor DynamicConvImpl::forward(const at::Tensor& param_feature,
                                    const at::Tensor& input_feature) {
  const auto& o = options_;
  INSTSEG_CHECK(param_feature.dim() == 2 && param_feature.size(1) == o.in_channels,
                "DynamicConv: queries must be [n,", o.in_channels, "], got ", param_feature.sizes());
  INSTSEG_CHECK(input_feature.dim() == 4 && input_feature.size(0) == param_feature.size(0) &&
                    input_feature.size(1) == o.in_channels,
                "DynamicConv: RoI features must be [", param_feature.size(0), ",", o.in_channels,
                ",S,S], got ", input_feature.sizes());
  // [n, C, S, S] -> [n, S*S, C] (a view, as upstream).
  auto f = input_feature.flatten(2).permute({0, 2, 1});
  auto params = dynamic_layer(param_feature);
  auto p_in = params.narrow(1, 0, num_params_in_).view({-1, o.in_channels, o.feat_channels});
  auto p_out = params.narrow(1, params.size(1) - num_params_out_, num_params_out_)
                   .view({-1, o.feat_channels, o.out_channels});
  f = at::relu(norm_in_param_dtype(norm_in, at::bmm(f, p_in)));
  f = at::relu(norm_in_param_dtype(norm_out, at::bmm(f, p_out)));
  if (o.with_proj) {
    INSTSEG_CHECK(input_feature.size(2) * input_feature.size(3) ==
                      o.input_feat_shape * o.input_feat_shape,
                  "DynamicConv: RoI side must be ", o.input_feat_shape, ", got ",
                  input_feature.sizes());
    f = at::relu(norm_in_param_dtype(fc_norm, fc_layer(f.flatten(1))));
  }
  return f;
}

}  // namespace instseg
