#include "instseg/solov2/solov2.h"

#include "instseg/core/check.h"
#include "instseg/solov2/solov2_loss.h"
#include "instseg/solov2/solov2_postprocess.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

namespace instseg {

SOLOv2Impl::SOLOv2Impl(const SOLOv2Options& o) : options_(o) {
  backbone = register_module("backbone", build_backbone(o.backbone));
  neck = register_module("neck", FPN(neck_options_for(o.neck, backbone->output_shapes(), "SOLOv2",
                                                      backbone_description(o.backbone))));
  mask_head = register_module("mask_head", SOLOv2Head(o.mask_head));
}

std::vector<at::Tensor> SOLOv2Impl::extract_feat(const at::Tensor& images) {
  return backbone_neck_features(*backbone, *neck, images);
}

SOLOv2HeadOutputs SOLOv2Impl::run_head(const Batch& batch) {
  INSTSEG_CHECK(batch.images.defined() && batch.images.dim() == 4, "SOLOv2: batch.images must be [B,3,H,W]");
  INSTSEG_CHECK(batch.size() == batch.images.size(0), "SOLOv2: ", batch.size(), " metas for ",
                batch.images.size(0), " images");
  SOLOv2HeadOutputs out = mask_head->forward(extract_feat(batch.images));
  for (size_t l = 0; l < out.cls_preds.size(); ++l) {
    capture("solov2.cls_scores." + std::to_string(l), out.cls_preds[l]);
    capture("solov2.kernel_preds." + std::to_string(l), out.kernel_preds[l]);
  }
  capture("solov2.mask_feats", out.mask_feats);
  return out;
}

LossMap SOLOv2Impl::forward_train(const Batch& batch) {
  INSTSEG_CHECK(static_cast<int64_t>(batch.gts.size()) == batch.size(), "SOLOv2::forward_train: ",
                batch.gts.size(), " GT entries for ", batch.size(), " images");
  SOLOv2HeadOutputs out = run_head(batch);
  return solov2_loss(out, batch.gts, options_.mask_head);
}

std::vector<Instances> SOLOv2Impl::predict(const Batch& batch) {
  // Inference never needs the autograd graph (QueryInst's predict does the same).
  torch::NoGradGuard no_grad;
  SOLOv2HeadOutputs out = run_head(batch);
  return solov2_postprocess(out, batch.metas, options_.mask_head);
}

std::string solov2_rename_official_key(const std::string& key) {
  auto starts = [&](const std::string& p) { return key.rfind(p, 0) == 0; };
  auto replace_all = [](std::string s, const std::string& from, const std::string& to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
      s.replace(pos, from.size(), to);
    return s;
  };
  if (starts("bbox_head.")) {
    std::string k = "mask_head." + key.substr(std::string("bbox_head.").size());
    k = replace_all(k, "mask_head.cate_convs.", "mask_head.cls_convs.");
    k = replace_all(k, "mask_head.solo_cate.", "mask_head.conv_cls.");
    k = replace_all(k, "mask_head.solo_kernel.", "mask_head.conv_kernel.");
    return k;
  }
  if (starts("mask_feat_head.")) {
    std::string k = "mask_head.mask_feature_head." + key.substr(std::string("mask_feat_head.").size());
    return replace_all(k, ".conv_pred.0.", ".conv_pred.");
  }
  return key;
}

}  // namespace instseg
