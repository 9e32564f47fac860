// QueryInst (Fang et al. 2021, mmdet detectors/queryinst.py) and, with
// roi_head.with_mask = false, Sparse R-CNN: ResNet + FPN (P2-P5) +
// EmbeddingRPNHead (learned proposals) + SparseRoIHead (6 dynamic stages).
//
// Registered names = mmdet's top-level keys: backbone, neck, rpn_head,
// roi_head, so mmdet checkpoints load unchanged.
#pragma once
#include "instseg/backbone/build_backbone.h"
#include "instseg/backbone/fpn.h"
#include "instseg/backbone/options.h"
#include "instseg/models/detector.h"
#include "instseg/queryinst/embedding_rpn_head.h"
#include "instseg/queryinst/sparse_roi_head.h"

#include <torch/nn/pimpl.h>

namespace instseg {

struct QueryInstOptions {
  BackboneSpec backbone{};  // R50, frozen_stages 1, norm_eval
  FPNOptions neck{};          // {256,512,1024,2048} -> 256, num_outs 4, on_input
  EmbeddingRPNHeadOptions rpn_head{};
  SparseRoIHeadOptions roi_head{};
};

// mmdet's queryinst_r50_fpn_1x_coco settings (100 proposals, 80 classes).
QueryInstOptions queryinst_r50_fpn_options();

class QueryInstImpl : public DetectorImpl {
 public:
  explicit QueryInstImpl(const QueryInstOptions& options);

  // batch.images [B,3,H,W]; batch.gts: per image GT in padded-input pixels.
  // Losses "s{s}.loss_cls|loss_bbox|loss_iou|loss_mask", "s{s}.pos_acc".
  LossMap forward_train(const Batch& batch) override;
  // One Instances per image, top max_per_img (proposals x classes) by score,
  // in the original frame. Call in eval mode (mask-head BN uses running stats).
  std::vector<Instances> predict(const Batch& batch) override;

  // P2..P5 [B,C,H/s,W/s] (captured as backbone.c2.., neck.p2..).
  std::vector<at::Tensor> extract_feat(const at::Tensor& images) override;

  // The bbox heads' num_classes (the mask heads must agree; checked at construction).
  int64_t num_classes() const override { return options_.roi_head.bbox_head.num_classes; }

  const QueryInstOptions& options() const { return options_; }

  std::shared_ptr<BackboneImpl> backbone;  // build_backbone(options.backbone)
  FPN neck{nullptr};
  EmbeddingRPNHead rpn_head{nullptr};
  SparseRoIHead roi_head{nullptr};

 private:
  QueryInstOptions options_;
};
TORCH_MODULE(QueryInst);

}  // namespace instseg
