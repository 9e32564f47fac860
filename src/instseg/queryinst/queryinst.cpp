#include "instseg/queryinst/queryinst.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <string>

namespace instseg {

QueryInstOptions queryinst_r50_fpn_options() {
  QueryInstOptions o;
  o.backbone.resnet.depth = 50;
  o.backbone.resnet.frozen_stages = 1;
  o.backbone.resnet.norm_eval = true;
  o.neck.in_channels = {256, 512, 1024, 2048};
  o.neck.out_channels = 256;
  o.neck.num_outs = 4;
  o.neck.add_extra_convs = "on_input";
  return o;
}

QueryInstImpl::QueryInstImpl(const QueryInstOptions& options) : options_(options) {
  const auto& o = options_;
  INSTSEG_CHECK(o.rpn_head.proposal_feature_channel == o.roi_head.bbox_head.in_channels,
                "QueryInst: rpn_head.proposal_feature_channel (",
                o.rpn_head.proposal_feature_channel, ") != bbox_head.in_channels (",
                o.roi_head.bbox_head.in_channels, ")");
  INSTSEG_CHECK(o.neck.out_channels == o.roi_head.bbox_head.in_channels,
                "QueryInst: neck.out_channels != bbox_head.in_channels");
  INSTSEG_CHECK(!o.roi_head.with_mask || o.roi_head.mask_head.num_classes == o.roi_head.bbox_head.num_classes,
                "QueryInst: mask_head.num_classes (", o.roi_head.mask_head.num_classes,
                ") != bbox_head.num_classes (", o.roi_head.bbox_head.num_classes, ")");
  backbone = register_module("backbone", build_backbone(o.backbone));
  neck = register_module("neck", FPN(neck_options_for(o.neck, backbone->output_shapes(), "QueryInst",
                                                      backbone_description(o.backbone))));
  rpn_head = register_module("rpn_head", EmbeddingRPNHead(o.rpn_head));
  roi_head = register_module("roi_head", SparseRoIHead(o.roi_head));
}

std::vector<at::Tensor> QueryInstImpl::extract_feat(const at::Tensor& images) {
  return backbone_neck_features(*backbone, *neck, images);
}

namespace {
std::vector<std::pair<int64_t, int64_t>> img_shapes(const Batch& batch) {
  INSTSEG_CHECK(batch.size() == batch.images.size(0), "QueryInst: ", batch.images.size(0),
                " images but ", batch.size(), " metas");
  std::vector<std::pair<int64_t, int64_t>> hw;
  for (const auto& m : batch.metas) {
    INSTSEG_CHECK(m.img_h > 0 && m.img_w > 0, "QueryInst: image meta without img_shape");
    hw.emplace_back(m.img_h, m.img_w);
  }
  return hw;
}
}  // namespace

LossMap QueryInstImpl::forward_train(const Batch& batch) {
  auto hw = img_shapes(batch);
  INSTSEG_CHECK(static_cast<int64_t>(batch.gts.size()) == batch.size(),
                "QueryInst::forward_train: ", batch.gts.size(), " GT sets for ", batch.size(),
                " images");
  auto feats = extract_feat(batch.images);
  auto props = rpn_head->forward(hw);
  return roi_head->loss(feats, props.bboxes, props.features, props.imgs_whwh, batch.gts,
                        batch.metas, capture_);
}

std::vector<Instances> QueryInstImpl::predict(const Batch& batch) {
  torch::NoGradGuard ng;
  auto hw = img_shapes(batch);
  auto feats = extract_feat(batch.images);
  auto props = rpn_head->forward(hw);
  return roi_head->predict(feats, props.bboxes, props.features, batch.metas, capture_);
}

}  // namespace instseg
