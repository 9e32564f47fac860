#include "instseg/structures/boxes.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <cmath>

namespace instseg {

namespace {
void check_boxes(const at::Tensor& b, const char* what) {
  INSTSEG_CHECK(b.dim() >= 1 && b.size(-1) == 4, what, ": boxes must be [...,4], got ", b.sizes());
}
}  // namespace

at::Tensor box_cxcywh_to_xyxy(const at::Tensor& boxes) {
  check_boxes(boxes, "box_cxcywh_to_xyxy");
  auto p = boxes.split(1, -1);
  return at::cat({p[0] - 0.5 * p[2], p[1] - 0.5 * p[3], p[0] + 0.5 * p[2], p[1] + 0.5 * p[3]}, -1);
}

at::Tensor box_xyxy_to_cxcywh(const at::Tensor& boxes) {
  check_boxes(boxes, "box_xyxy_to_cxcywh");
  auto p = boxes.split(1, -1);
  return at::cat({(p[0] + p[2]) / 2, (p[1] + p[3]) / 2, p[2] - p[0], p[3] - p[1]}, -1);
}

at::Tensor box_area(const at::Tensor& boxes) {
  check_boxes(boxes, "box_area");
  return (boxes.select(-1, 2) - boxes.select(-1, 0)) * (boxes.select(-1, 3) - boxes.select(-1, 1));
}

namespace {

// Shared body of the four overlap functions. a, b broadcastable [...,4].
at::Tensor overlaps(const at::Tensor& a, const at::Tensor& b, const at::Tensor& area_a,
                    const at::Tensor& area_b, bool giou, double eps) {
  auto lt = at::max(a.narrow(-1, 0, 2), b.narrow(-1, 0, 2));
  auto rb = at::min(a.narrow(-1, 2, 2), b.narrow(-1, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto overlap = wh.select(-1, 0) * wh.select(-1, 1);
  auto eps_t = at::full({1}, eps, overlap.options());
  auto uni = at::max(area_a + area_b - overlap, eps_t);
  auto ious = overlap / uni;
  if (!giou) return ious;
  auto elt = at::min(a.narrow(-1, 0, 2), b.narrow(-1, 0, 2));
  auto erb = at::max(a.narrow(-1, 2, 2), b.narrow(-1, 2, 2));
  auto ewh = (erb - elt).clamp_min(0);
  auto enclose = at::max(ewh.select(-1, 0) * ewh.select(-1, 1), eps_t);
  return ious - (enclose - uni) / enclose;
}

at::Tensor pairwise(const at::Tensor& a, const at::Tensor& b, bool giou, double eps,
                    const char* what) {
  INSTSEG_CHECK(a.dim() == 2 && a.size(1) == 4 && b.dim() == 2 && b.size(1) == 4, what,
                ": boxes must be [N,4] and [M,4], got ", a.sizes(), " and ", b.sizes());
  if (a.size(0) == 0 || b.size(0) == 0) return at::zeros({a.size(0), b.size(0)}, a.options());
  return overlaps(a.unsqueeze(1), b.unsqueeze(0), box_area(a).unsqueeze(1),
                  box_area(b).unsqueeze(0), giou, eps);
}

at::Tensor aligned(const at::Tensor& a, const at::Tensor& b, bool giou, double eps,
                   const char* what) {
  INSTSEG_CHECK(a.dim() == 2 && a.size(1) == 4 && a.sizes() == b.sizes(), what,
                ": boxes must both be [N,4], got ", a.sizes(), " and ", b.sizes());
  if (a.size(0) == 0) return at::zeros({0}, a.options());
  return overlaps(a, b, box_area(a), box_area(b), giou, eps);
}

}  // namespace

at::Tensor box_iou(const at::Tensor& a, const at::Tensor& b, double eps) {
  return pairwise(a, b, false, eps, "box_iou");
}
at::Tensor box_giou(const at::Tensor& a, const at::Tensor& b, double eps) {
  return pairwise(a, b, true, eps, "box_giou");
}
at::Tensor box_iou_aligned(const at::Tensor& a, const at::Tensor& b, double eps) {
  return aligned(a, b, false, eps, "box_iou_aligned");
}
at::Tensor box_giou_aligned(const at::Tensor& a, const at::Tensor& b, double eps) {
  return aligned(a, b, true, eps, "box_giou_aligned");
}

at::Tensor delta_xywh_decode(const at::Tensor& rois, const at::Tensor& deltas,
                             const DeltaXYWHOptions& opt) {
  INSTSEG_CHECK(rois.dim() == 2 && rois.size(1) == 4 && deltas.dim() == 2 && deltas.size(1) == 4 &&
                    rois.size(0) == deltas.size(0),
                "delta_xywh_decode: rois and deltas must both be [N,4], got ", rois.sizes(),
                " and ", deltas.sizes());
  INSTSEG_CHECK(opt.means.size() == 4 && opt.stds.size() == 4,
                "delta_xywh_decode: means and stds need 4 values");
  if (deltas.size(0) == 0) return deltas;
  // Same op order as mmdet's delta2bbox, so float32 results agree bitwise.
  auto means = at::tensor(opt.means, deltas.options().dtype(at::kDouble))
                   .to(deltas.scalar_type())
                   .view({1, -1});
  auto stds = at::tensor(opt.stds, deltas.options().dtype(at::kDouble))
                  .to(deltas.scalar_type())
                  .view({1, -1});
  auto d = deltas * stds + means;
  auto dxy = d.narrow(1, 0, 2);
  auto dwh = d.narrow(1, 2, 2);
  auto pxy = (rois.narrow(1, 0, 2) + rois.narrow(1, 2, 2)) * 0.5;
  auto pwh = rois.narrow(1, 2, 2) - rois.narrow(1, 0, 2);
  auto dxy_wh = pwh * dxy;
  const double max_ratio = std::abs(std::log(opt.wh_ratio_clip));
  dwh = dwh.clamp(-max_ratio, max_ratio);
  auto gxy = pxy + dxy_wh;
  auto gwh = pwh * dwh.exp();
  auto x1y1 = gxy - (gwh * 0.5);
  auto x2y2 = gxy + (gwh * 0.5);
  return at::cat({x1y1, x2y2}, -1);
}

at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes) {
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto& b = boxes[i];
    INSTSEG_CHECK(b.dim() == 2 && b.size(1) == 4, "boxes_to_rois: image ", i,
                  " boxes must be [N,4], got ", b.sizes());
    parts.push_back(at::cat({at::full({b.size(0), 1}, static_cast<double>(i), b.options()), b}, 1));
  }
  INSTSEG_CHECK(!parts.empty(), "boxes_to_rois: no images");
  return at::cat(parts, 0);
}

}  // namespace instseg
