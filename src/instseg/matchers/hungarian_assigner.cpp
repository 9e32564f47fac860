#include "instseg/matchers/hungarian_assigner.h"

#include "instseg/core/check.h"
#include "instseg/matchers/hungarian.h"

#include <ATen/ATen.h>

namespace instseg {

int64_t AssignResult::num_pos() const { return (gt_inds > 0).sum().item<int64_t>(); }

AssignResult hungarian_assign(const at::Tensor& pred_boxes, const at::Tensor& cls_logits,
                              const at::Tensor& gt_boxes, const at::Tensor& gt_labels,
                              double img_h, double img_w, const HungarianAssignerOptions& opt) {
  INSTSEG_CHECK(pred_boxes.dim() == 2 && pred_boxes.size(1) == 4,
                "hungarian_assign: pred_boxes must be [N,4], got ", pred_boxes.sizes());
  INSTSEG_CHECK(cls_logits.dim() == 2 && cls_logits.size(0) == pred_boxes.size(0),
                "hungarian_assign: cls_logits must be [N,C] with N=", pred_boxes.size(0), ", got ",
                cls_logits.sizes());
  INSTSEG_CHECK(gt_boxes.dim() == 2 && gt_boxes.size(1) == 4 && gt_labels.dim() == 1 &&
                    gt_labels.size(0) == gt_boxes.size(0),
                "hungarian_assign: gt boxes [G,4] and labels [G] expected, got ", gt_boxes.sizes(),
                " and ", gt_labels.sizes());
  const int64_t n = pred_boxes.size(0), g = gt_boxes.size(0);
  auto long_opts = pred_boxes.options().dtype(at::kLong);
  AssignResult r;
  r.gt_inds = at::full({n}, -1, long_opts);
  r.labels = at::full({n}, -1, long_opts);
  if (g == 0 || n == 0) {
    if (g == 0) r.gt_inds.fill_(0);
    return r;
  }
  // 1. weighted costs on detached predictions; 2. exact LSA on the CPU.
  auto boxes = pred_boxes.detach();
  auto gtb = gt_boxes.detach().to(boxes.scalar_type());
  auto cost = focal_loss_cost(cls_logits.detach(), gt_labels, opt.cls_cost) +
              bbox_l1_cost(boxes, gtb, img_h, img_w, opt.l1_weight) +
              giou_cost(boxes, gtb, opt.giou_weight);
  auto m = linear_sum_assignment(cost);
  // 3. everyone background, then the matched ones.
  r.gt_inds.fill_(0);
  auto rows = at::tensor(m.rows, at::kLong).to(pred_boxes.device());
  auto cols = at::tensor(m.cols, at::kLong).to(pred_boxes.device());
  r.gt_inds.index_put_({rows}, cols + 1);
  r.labels.index_put_({rows}, gt_labels.to(at::kLong).to(pred_boxes.device()).index_select(0, cols));
  return r;
}

}  // namespace instseg
