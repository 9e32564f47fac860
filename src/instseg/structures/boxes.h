// Box utilities (mmdetection semantics). Boxes are float tensors [..., 4];
// xyxy means (x1, y1, x2, y2) in pixels with width x2 - x1 (no +1).
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

namespace instseg {

// (cx, cy, w, h) <-> (x1, y1, x2, y2), any leading shape.
at::Tensor box_cxcywh_to_xyxy(const at::Tensor& boxes);
at::Tensor box_xyxy_to_cxcywh(const at::Tensor& boxes);

// [N] areas of xyxy boxes [N,4] (negative sides give negative areas, as mmdet).
at::Tensor box_area(const at::Tensor& boxes);

// Pairwise overlaps of a [N,4] and b [M,4] -> [N,M]: IoU, or generalised IoU
// (Rezatofighi et al. 2019) when giou. Unions and enclosing areas are clamped
// to >= eps (mmdet bbox_overlaps).
at::Tensor box_iou(const at::Tensor& a, const at::Tensor& b, double eps = 1e-6);
at::Tensor box_giou(const at::Tensor& a, const at::Tensor& b, double eps = 1e-6);
// Element-wise versions for aligned pairs a [N,4], b [N,4] -> [N].
at::Tensor box_iou_aligned(const at::Tensor& a, const at::Tensor& b, double eps = 1e-6);
at::Tensor box_giou_aligned(const at::Tensor& a, const at::Tensor& b, double eps = 1e-6);

// DeltaXYWHBBoxCoder.decode (mmdet delta2bbox) without clipping:
// rois [N,4] xyxy, deltas [N,4] (dx, dy, dw, dh) -> [N,4] xyxy.
// d = deltas * stds + means; dw, dh clamped to +-|log(wh_ratio_clip)|;
// centre += (w,h) * (dx,dy); size *= exp(dw,dh).
struct DeltaXYWHOptions {
  std::vector<double> means{0., 0., 0., 0.};
  std::vector<double> stds{1., 1., 1., 1.};
  double wh_ratio_clip = 16.0 / 1000.0;
};
at::Tensor delta_xywh_decode(const at::Tensor& rois, const at::Tensor& deltas,
                             const DeltaXYWHOptions& opt);

// rois [K,5] (batch index, x1, y1, x2, y2) from per-image boxes [Ni,4].
at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes);

}  // namespace instseg
