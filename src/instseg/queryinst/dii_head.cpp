#include "instseg/queryinst/dii_head.h"

#include "instseg/core/check.h"
#include "instseg/layers/autocast_norm.h"
#include "instseg/layers/weight_init.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

namespace instseg {

namespace {
torch::nn::LayerNorm layer_norm(int64_t c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}));
}

void add_fc_block(torch::nn::ModuleList& list, int64_t c) {
  list->push_back(torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(false)));
  list->push_back(layer_norm(c));
  list->push_back(torch::nn::ReLU());
}

at::Tensor run_fcs(const torch::nn::ModuleList& list, at::Tensor x) {
  for (size_t i = 0; i < list->size(); i += 3) {
    x = list->ptr(i)->as<torch::nn::Linear>()->forward(x);
    auto ln = list->ptr(i + 1)->as<torch::nn::LayerNorm>();
    x = norm_in_param_dtype(ln, x);
    x = at::relu(x);
  }
  return x;
}
}  // namespace

DIIHeadImpl::DIIHeadImpl(const DIIHeadOptions& options) : options_(options) {
  const auto& o = options_;
  const int64_t e = o.in_channels;
  INSTSEG_CHECK(o.dynamic_conv.in_channels == e, "DIIHead: dynamic_conv.in_channels (",
                o.dynamic_conv.in_channels, ") != in_channels (", e, ")");
  attention = register_module("attention", MMCVMultiheadAttention(e, o.num_heads));
  attention_norm = register_module("attention_norm", layer_norm(e));
  instance_interactive_conv =
      register_module("instance_interactive_conv", DynamicConv(o.dynamic_conv));
  instance_interactive_conv_norm = register_module("instance_interactive_conv_norm", layer_norm(e));
  ffn = register_module("ffn", FFN(e, o.feedforward_channels, o.num_ffn_fcs));
  ffn_norm = register_module("ffn_norm", layer_norm(e));
  cls_fcs = register_module("cls_fcs", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_cls_fcs; ++i) add_fc_block(cls_fcs, e);
  fc_cls = register_module("fc_cls", torch::nn::Linear(e, o.num_classes));
  reg_fcs = register_module("reg_fcs", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_reg_fcs; ++i) add_fc_block(reg_fcs, e);
  fc_reg = register_module("fc_reg", torch::nn::Linear(e, 4));
  reset_parameters();
}

void DIIHeadImpl::reset_parameters() {
  torch::NoGradGuard ng;
  for (auto& p : parameters()) {
    if (p.dim() > 1) torch::nn::init::xavier_uniform_(p);
  }
  fc_cls->bias.fill_(bias_init_with_prob(0.01));
}

DIIHeadOutput DIIHeadImpl::forward(const at::Tensor& roi_feat, const at::Tensor& proposal_feat) {
  const int64_t e = options_.in_channels;
  INSTSEG_CHECK(proposal_feat.dim() == 3 && proposal_feat.size(2) == e,
                "DIIHead: proposal_feat must be [B,N,", e, "], got ", proposal_feat.sizes());
  const int64_t b = proposal_feat.size(0), n = proposal_feat.size(1);
  INSTSEG_CHECK(roi_feat.dim() == 4 && roi_feat.size(0) == b * n,
                "DIIHead: roi_feat must be [B*N,C,S,S] with B*N=", b * n, ", got ",
                roi_feat.sizes());
  DIIHeadOutput out;
  // 1. self-attention among the queries of one image: (seq = N, batch = B).
  auto q = norm_in_param_dtype(attention_norm, attention(proposal_feat.permute({1, 0, 2})));
  out.attn_feats = q.permute({1, 0, 2});
  // 2. instance interaction with the RoI features.
  auto pf = out.attn_feats.reshape({-1, e});
  auto iic = instance_interactive_conv(pf, roi_feat);
  auto obj = norm_in_param_dtype(instance_interactive_conv_norm, pf + iic);
  // 3. FFN (residual inside), then LN.
  obj = norm_in_param_dtype(ffn_norm, ffn(obj));
  out.cls_score = fc_cls(run_fcs(cls_fcs, obj)).view({b, n, options_.num_classes});
  out.bbox_delta = fc_reg(run_fcs(reg_fcs, obj)).view({b, n, 4});
  out.obj_feat = obj.view({b, n, e});
  return out;
}

}  // namespace instseg
