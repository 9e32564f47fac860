// SparseRoIHead (mmdet roi_heads/sparse_roi_head.py): the iterative stages of
// Sparse R-CNN / QueryInst. Stage s pools 7x7 RoIs at its input boxes, runs
// DIIHead s, decodes new boxes (DeltaXYWH, no clipping); in training it matches
// the stage's predictions to the GT (Hungarian), computes focal / L1 / GIoU
// losses and, with masks, DynamicMaskHead s on the positives (Dice loss on
// masks cut with the predicted boxes). Boxes are detached between stages, the
// query features are not.
//
// Registered names = mmdet keys under roi_head.: bbox_head.<s>, mask_head.<s>.
#pragma once
#include "instseg/matchers/hungarian_assigner.h"
#include "instseg/ops/multi_level_roi_align.h"
#include "instseg/queryinst/dii_head.h"
#include "instseg/queryinst/dynamic_mask_head.h"
#include "instseg/structures/boxes.h"
#include "instseg/structures/instances.h"
#include "instseg/structures/tensor_dict.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace instseg {

struct SparseRoIHeadOptions {
  int num_stages = 6;
  std::vector<double> stage_loss_weights{1, 1, 1, 1, 1, 1};
  MultiLevelRoIAlignOptions bbox_roi{7, {4, 8, 16, 32}, 2, true, 56};
  MultiLevelRoIAlignOptions mask_roi{14, {4, 8, 16, 32}, 2, true, 56};
  DIIHeadOptions bbox_head{};
  bool with_mask = true;  // false: Sparse R-CNN
  DynamicMaskHeadOptions mask_head{};
  DeltaXYWHOptions bbox_coder{{0, 0, 0, 0}, {0.5, 0.5, 1.0, 1.0}, 16.0 / 1000.0};
  HungarianAssignerOptions assigner{};
  // Loss weights (FocalLoss gamma 2 alpha 0.25; L1; GIoU; Dice eps 1e-5 non-naive).
  double loss_cls_weight = 2.0, focal_gamma = 2.0, focal_alpha = 0.25;
  double loss_bbox_weight = 5.0, loss_iou_weight = 2.0;
  double loss_mask_weight = 8.0, dice_eps = 1e-5;
  int64_t mask_size = 28;
  // test_cfg
  int64_t max_per_img = 100;
  double mask_thr_binary = 0.5;
};

// What the stages produce for a batch.
struct SparseStageOutput {
  at::Tensor cls_score;   // [B,N,C]
  at::Tensor bboxes;      // [B,N,4] decoded (not detached)
  at::Tensor obj_feat;    // [B,N,E]
  at::Tensor attn_feats;  // [B,N,E]
};

class SparseRoIHeadImpl : public torch::nn::Module {
 public:
  explicit SparseRoIHeadImpl(const SparseRoIHeadOptions& options);

  // One stage: feats = FPN levels [B,E,Hl,Wl]; boxes [B,N,4] xyxy (img frame);
  // obj_feat [B,N,E].
  SparseStageOutput stage_forward(int stage, const std::vector<at::Tensor>& feats,
                                  const at::Tensor& boxes, const at::Tensor& obj_feat);
  // Mask logits of stage `stage` for boxes [K,5] RoIs and queries [K,E].
  at::Tensor mask_forward(int stage, const std::vector<at::Tensor>& feats, const at::Tensor& rois,
                          const at::Tensor& attn_feats);

  // Training: losses "s{s}.loss_cls|loss_bbox|loss_iou|loss_mask" and
  // "s{s}.pos_acc". proposals [B,N,4], features [B,N,E], imgs_whwh [B,1,4].
  // capture (optional) receives "queryinst.stage{s}.assigned_gt_inds" [B*N].
  // As in mmdet, loss_cls is divided by (num_pos + float eps): a batch with no
  // GT at all gets a very large class loss (mmdet behaviour, kept for parity).
  // num_pos is mmdet's reduce_mean(num_pos), the mean over the ranks of a
  // distributed run (engine/dist_hooks.h): N processes train as one.
  LossMap loss(const std::vector<at::Tensor>& feats, const at::Tensor& proposals,
               const at::Tensor& features, const at::Tensor& imgs_whwh,
               const std::vector<GtInstances>& gts, const std::vector<ImageMeta>& metas,
               TensorDict* capture = nullptr);

  // Inference: all stages, then the last mask head once; detections per image
  // in the original frame. capture gets "queryinst.stage{s}.{cls_score,bboxes,
  // obj_feat}" and "queryinst.mask_logits".
  std::vector<Instances> predict(const std::vector<at::Tensor>& feats, const at::Tensor& proposals,
                                 const at::Tensor& features, const std::vector<ImageMeta>& metas,
                                 TensorDict* capture = nullptr);

  const SparseRoIHeadOptions& options() const { return options_; }

  torch::nn::ModuleList bbox_head{nullptr};  // DIIHead x num_stages
  torch::nn::ModuleList mask_head{nullptr};  // DynamicMaskHead x num_stages (with_mask)

 private:
  SparseRoIHeadOptions options_;
};
TORCH_MODULE(SparseRoIHead);

}  // namespace instseg
