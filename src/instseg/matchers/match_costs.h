// Matching cost matrices of mmdetection's HungarianAssigner (match_cost.py):
// each returns [num_preds, num_gts], already multiplied by its weight.
#pragma once
#include <ATen/core/Tensor.h>

namespace instseg {

// FocalLossCost: p = sigmoid(logits [N,C]);
// cost = (-log(p+eps) a (1-p)^g  -  -log(1-p+eps) (1-a) p^g)[:, gt_labels] * weight.
struct FocalLossCostOptions {
  double weight = 2.0;
  double alpha = 0.25;
  double gamma = 2.0;
  double eps = 1e-12;
};
at::Tensor focal_loss_cost(const at::Tensor& cls_logits, const at::Tensor& gt_labels,
                           const FocalLossCostOptions& opt);

// BBoxL1Cost (box_format xyxy): L1 distance of xyxy boxes divided by
// [img_w, img_h, img_w, img_h], times weight. pred [N,4], gt [G,4].
at::Tensor bbox_l1_cost(const at::Tensor& pred_boxes, const at::Tensor& gt_boxes, double img_h,
                        double img_w, double weight = 5.0);

// IoUCost (giou mode): -GIoU(pred, gt) * weight on absolute xyxy boxes.
at::Tensor giou_cost(const at::Tensor& pred_boxes, const at::Tensor& gt_boxes,
                     double weight = 2.0);

}  // namespace instseg
