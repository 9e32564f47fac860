#include "instseg/solov2/solov2_head.h"

#include "instseg/core/check.h"
#include "instseg/layers/autocast_off.h"
#include "instseg/layers/interpolate.h"
#include "instseg/layers/weight_init.h"

#include <ATen/ATen.h>

#include <optional>

namespace instseg {

SOLOv2HeadImpl::SOLOv2HeadImpl(const SOLOv2HeadOptions& o) : options_(o) {
  INSTSEG_CHECK(o.num_grids.size() == o.strides.size() && o.num_grids.size() == o.scale_ranges.size(),
                "SOLOv2Head: num_grids, strides and scale_ranges must have one entry per level");
  INSTSEG_CHECK(o.dynamic_conv_size == 1, "SOLOv2Head: only dynamic_conv_size 1 is supported");
  // The mask feature branch always reads the head's input channels (mmdet overrides it too).
  options_.mask_feature_head.in_channels = o.in_channels;

  // Registration order = mmdet's state-dict order: cls_convs, kernel_convs, conv_cls, conv_kernel.
  cls_convs = register_module("cls_convs", torch::nn::ModuleList());
  kernel_convs = register_module("kernel_convs", torch::nn::ModuleList());
  const bool with_norm = o.norm_type != "none";
  for (int i = 0; i < o.stacked_convs; ++i) {
    // mmdet: dcn_cfg applies to the same layers of both towers, all of them or
    // (light head) only the last.
    const bool dcn = o.dcn_type != "Conv2d" && (o.dcn_apply_to_all_conv || i == o.stacked_convs - 1);
    auto make = [&](int64_t in) {
      ConvModuleOptions c(in, o.feat_channels, 3);
      c.stride(1).padding(1).norm(o.norm_type).num_groups(o.num_groups).norm_requires_grad(o.norm_requires_grad);
      c.bias(!with_norm);  // mmdet: bias = norm_cfg is None
      if (dcn) c.conv(o.dcn_type).deform_groups(o.dcn_deform_groups);
      return ConvModule(c);
    };
    ConvModule k = make(i == 0 ? o.in_channels + 2 : o.feat_channels);
    ConvModule c = make(i == 0 ? o.in_channels : o.feat_channels);
    kernel_convs->push_back(k);
    cls_convs->push_back(c);
    kernel_tower_.push_back(k);
    cls_tower_.push_back(c);
  }
  conv_cls = register_module(
      "conv_cls", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.feat_channels, o.num_classes, 3).padding(1)));
  conv_kernel = register_module(
      "conv_kernel",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(o.feat_channels, o.kernel_out_channels(), 3).padding(1)));
  mask_feature_head = register_module("mask_feature_head", MaskFeatModule(options_.mask_feature_head));
  reset_parameters();
}

void SOLOv2HeadImpl::reset_parameters() {
  for (auto& m : kernel_tower_) m->normal_init_conv2d(0.01);
  for (auto& m : cls_tower_) m->normal_init_conv2d(0.01);
  normal_init(conv_kernel->weight, conv_kernel->bias, 0.0, 0.01, 0.0);
  normal_init(conv_cls->weight, conv_cls->bias, 0.0, 0.01, bias_init_with_prob(0.01));
}

SOLOv2HeadOutputs SOLOv2HeadImpl::forward(const std::vector<at::Tensor>& feats) {
  const int L = options_.num_levels();
  INSTSEG_CHECK(static_cast<int>(feats.size()) == L, "SOLOv2Head: expected ", L, " feature levels, got ",
                feats.size());
  for (const auto& f : feats)
    INSTSEG_CHECK(f.dim() == 4 && f.size(1) == options_.in_channels, "SOLOv2Head: feature ", f.sizes(),
                  " must be [B,", options_.in_channels, ",H,W]");
  SOLOv2HeadOutputs out;
  out.mask_feats = mask_feature_head->forward(feats);
  for (int i = 0; i < L; ++i) {
    // SOLOHead.resize_feats: P2 -> P3's size, last level -> the previous one's size.
    at::Tensor x = feats[i];
    if (i == 0 && L > 1) {
      x = resize_bilinear(x, feats[1].size(2), feats[1].size(3), false);
    } else if (i == L - 1 && L > 1) {
      x = resize_bilinear(x, feats[i - 1].size(2), feats[i - 1].size(3), false);
    }
    // CoordConv before the S x S resize; the category branch drops the coords.
    x = at::cat({x, generate_coordinate(x.size(0), x.size(2), x.size(3), x.options())}, 1);
    const int64_t S = options_.num_grids[i];
    at::Tensor kernel_feat = resize_bilinear(x, S, S, false);
    at::Tensor cate_feat = kernel_feat.slice(1, 0, kernel_feat.size(1) - 2).contiguous();
    kernel_feat = kernel_feat.contiguous();
    for (auto& m : kernel_tower_) kernel_feat = m->forward(kernel_feat);
    out.kernel_preds.push_back(conv_kernel->forward(kernel_feat));
    {
      // set_fp32_category: the tower sees fp32 features (a no-op cast when the
      // neck's outputs are fp32 already, DetectorImpl::set_fp32_features).
      std::optional<AutocastOff> fp32;
      if (fp32_category_ && !is_training()) {
        fp32.emplace();
        cate_feat = cate_feat.to(conv_cls->weight.scalar_type());
      }
      for (auto& m : cls_tower_) cate_feat = m->forward(cate_feat);
      out.cls_preds.push_back(conv_cls->forward(cate_feat));
    }
  }
  return out;
}

}  // namespace instseg
