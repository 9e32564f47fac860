#include "instseg/matchers/match_costs.h"

#include "instseg/core/check.h"
#include "instseg/structures/boxes.h"

#include <ATen/ATen.h>

namespace instseg {

at::Tensor focal_loss_cost(const at::Tensor& cls_logits, const at::Tensor& gt_labels,
                           const FocalLossCostOptions& opt) {
  INSTSEG_CHECK(cls_logits.dim() == 2, "focal_loss_cost: logits must be [N,C], got ",
                cls_logits.sizes());
  INSTSEG_CHECK(gt_labels.dim() == 1, "focal_loss_cost: labels must be [G], got ",
                gt_labels.sizes());
  auto p = cls_logits.sigmoid();
  auto neg = -(1 - p + opt.eps).log() * (1 - opt.alpha) * p.pow(opt.gamma);
  auto pos = -(p + opt.eps).log() * opt.alpha * (1 - p).pow(opt.gamma);
  auto idx = gt_labels.to(at::kLong);
  return (pos.index_select(1, idx) - neg.index_select(1, idx)) * opt.weight;
}

at::Tensor bbox_l1_cost(const at::Tensor& pred_boxes, const at::Tensor& gt_boxes, double img_h,
                        double img_w, double weight) {
  INSTSEG_CHECK(pred_boxes.dim() == 2 && pred_boxes.size(1) == 4 && gt_boxes.dim() == 2 &&
                    gt_boxes.size(1) == 4,
                "bbox_l1_cost: boxes must be [N,4] and [G,4], got ", pred_boxes.sizes(), " and ",
                gt_boxes.sizes());
  auto factor = at::tensor({img_w, img_h, img_w, img_h}, at::kDouble)
                    .to(gt_boxes.options())
                    .unsqueeze(0);
  auto g = gt_boxes / factor;
  auto p = pred_boxes / factor;
  if (p.size(0) == 0 || g.size(0) == 0) return at::zeros({p.size(0), g.size(0)}, p.options());
  return at::cdist(p, g, 1) * weight;
}

at::Tensor giou_cost(const at::Tensor& pred_boxes, const at::Tensor& gt_boxes, double weight) {
  return -box_giou(pred_boxes, gt_boxes) * weight;
}

}  // namespace instseg
