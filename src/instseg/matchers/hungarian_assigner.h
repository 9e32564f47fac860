// mmdetection's HungarianAssigner with QueryInst's costs: one-to-one matching
// of predictions to GT by minimum total cost (FocalLossCost + BBoxL1Cost +
// giou IoUCost), solved exactly on the CPU.
#pragma once
#include "instseg/matchers/match_costs.h"

#include <ATen/core/Tensor.h>

namespace instseg {

struct HungarianAssignerOptions {
  FocalLossCostOptions cls_cost{};   // weight 2
  double l1_weight = 5.0;            // BBoxL1Cost on img_shape-normalised xyxy
  double giou_weight = 2.0;          // IoUCost(iou_mode='giou')
};

struct AssignResult {
  at::Tensor gt_inds;  // [N] int64: 0 = background, k = matched to GT k-1 (1-based)
  at::Tensor labels;   // [N] int64: GT label, -1 = background
  int64_t num_pos() const;
};

// pred_boxes [N,4] xyxy (img_shape pixels), cls_logits [N,C]; gt_boxes [G,4],
// gt_labels [G]. img_h, img_w: img_shape (resized, unpadded). Inputs are
// detached; works for G = 0, N < G and N > G. Results on the inputs' device.
AssignResult hungarian_assign(const at::Tensor& pred_boxes, const at::Tensor& cls_logits,
                              const at::Tensor& gt_boxes, const at::Tensor& gt_labels,
                              double img_h, double img_w, const HungarianAssignerOptions& opt);

}  // namespace instseg
