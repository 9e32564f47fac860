#include "instseg/queryinst/queryinst_postprocess.h"

#include "instseg/core/check.h"
#include "instseg/ops/roi_align.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace instseg {

at::Tensor queryinst_mask_targets(const at::Tensor& boxes, const at::Tensor& gt_masks,
                                  const at::Tensor& gt_inds, int64_t size) {
  INSTSEG_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "mask targets: boxes must be [P,4], got ",
                boxes.sizes());
  INSTSEG_CHECK(gt_masks.dim() == 3, "mask targets: gt_masks must be [G,H,W], got ",
                gt_masks.sizes());
  INSTSEG_CHECK(gt_inds.dim() == 1 && gt_inds.size(0) == boxes.size(0),
                "mask targets: gt_inds must be [P]");
  const int64_t p = boxes.size(0);
  auto opts = boxes.options().dtype(at::kFloat);
  if (p == 0) return at::zeros({0, size, size}, opts);
  const double h = static_cast<double>(gt_masks.size(1)), w = static_cast<double>(gt_masks.size(2));
  auto b = boxes.detach().to(at::kFloat).clone();
  b.select(1, 0).clamp_(0, w);
  b.select(1, 2).clamp_(0, w);
  b.select(1, 1).clamp_(0, h);
  b.select(1, 3).clamp_(0, h);
  // Index the G masks through the RoI batch column instead of copying one
  // full-size mask per positive (same numbers, less memory).
  auto masks = gt_masks.to(b.device()).to(at::kFloat).unsqueeze(1);
  auto rois = at::cat({gt_inds.to(b.device()).to(at::kFloat).unsqueeze(1), b}, 1);
  RoIAlignOptions ra;
  ra.output_h = ra.output_w = size;
  ra.spatial_scale = 1.0;
  ra.sampling_ratio = 0;
  ra.aligned = true;
  auto t = roi_align_forward(masks, rois, ra).squeeze(1);
  return (t >= 0.5).to(at::kFloat);
}

at::Tensor paste_masks(const at::Tensor& masks, const at::Tensor& boxes, int64_t img_h,
                       int64_t img_w, double threshold) {
  INSTSEG_CHECK(masks.dim() == 3 && boxes.dim() == 2 && boxes.size(1) == 4 &&
                    masks.size(0) == boxes.size(0),
                "paste_masks: masks [K,h,w] and boxes [K,4] expected, got ", masks.sizes(), " and ",
                boxes.sizes());
  const int64_t k = masks.size(0);
  auto out = at::zeros({k, img_h, img_w}, masks.options().dtype(at::kByte));
  auto fopts = masks.options().dtype(at::kFloat);
  auto bx = boxes.to(at::kFloat).contiguous();
  auto bcpu = bx.cpu();
  for (int64_t i = 0; i < k; ++i) {
    auto box = bx[i];
    const float* c = bcpu.data_ptr<float>() + 4 * i;
    // The region the box can touch, with one pixel of margin (mmdet skip_empty).
    const int64_t x0 = std::max<int64_t>(static_cast<int64_t>(std::floor(c[0])) - 1, 0);
    const int64_t y0 = std::max<int64_t>(static_cast<int64_t>(std::floor(c[1])) - 1, 0);
    const int64_t x1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(c[2])) + 1, img_w);
    const int64_t y1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(c[3])) + 1, img_h);
    if (x1 <= x0 || y1 <= y0) continue;
    auto img_y = at::arange(y0, y1, fopts) + 0.5;
    auto img_x = at::arange(x0, x1, fopts) + 0.5;
    img_y = (img_y - box[1]) / (box[3] - box[1]) * 2 - 1;
    img_x = (img_x - box[0]) / (box[2] - box[0]) * 2 - 1;
    // Zero-size boxes divide by zero: mmdet maps the infinities to 0.
    img_x.masked_fill_(at::isinf(img_x), 0);
    img_y.masked_fill_(at::isinf(img_y), 0);
    const int64_t h = y1 - y0, w = x1 - x0;
    auto gx = img_x.view({1, 1, w}).expand({1, h, w});
    auto gy = img_y.view({1, h, 1}).expand({1, h, w});
    auto grid = at::stack({gx, gy}, 3);
    auto m = at::grid_sampler(masks[i].to(at::kFloat).view({1, 1, masks.size(1), masks.size(2)}),
                              grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners*/ false);
    out[i].slice(0, y0, y1).slice(1, x0, x1).copy_((m[0][0] >= threshold).to(at::kByte));
  }
  return out;
}

Instances queryinst_postprocess(const at::Tensor& cls_score, const at::Tensor& boxes,
                                const at::Tensor& mask_logits, const ImageMeta& meta,
                                int64_t max_per_img, double mask_thr_binary) {
  INSTSEG_CHECK(cls_score.dim() == 2 && boxes.dim() == 2 && boxes.size(0) == cls_score.size(0),
                "queryinst_postprocess: cls_score [N,C] and boxes [N,4] expected, got ",
                cls_score.sizes(), " and ", boxes.sizes());
  const int64_t n = cls_score.size(0), c = cls_score.size(1);
  Instances res;
  res.image_id = meta.image_id;
  const int64_t k = std::min(max_per_img, n * c);
  auto scores_all = cls_score.sigmoid().flatten();
  auto topk = scores_all.topk(k, 0, /*largest*/ true, /*sorted*/ true);
  auto scores = std::get<0>(topk);
  auto idx = std::get<1>(topk);
  res.labels = idx.remainder(c);
  auto box_idx = idx.div(c, "floor");
  auto bb = boxes.index_select(0, box_idx);
  // Back to the original image frame (scale_factor = img / ori per axis).
  auto sf = at::tensor({meta.scale_w, meta.scale_h, meta.scale_w, meta.scale_h}, at::kDouble)
                .to(bb.options())
                .view({1, 4});
  res.bboxes = bb / sf;
  res.scores = scores;
  if (mask_logits.defined()) {
    INSTSEG_CHECK(mask_logits.dim() == 4 && mask_logits.size(0) == n && mask_logits.size(1) == c,
                  "queryinst_postprocess: mask_logits must be [N,C,h,w], got ",
                  mask_logits.sizes());
    auto probs = mask_logits.flatten(0, 1).index_select(0, idx).sigmoid();
    res.masks = paste_masks(probs, res.bboxes, meta.ori_h, meta.ori_w, mask_thr_binary);
  } else {
    res.masks = at::zeros({k, meta.ori_h, meta.ori_w}, cls_score.options().dtype(at::kByte));
  }
  return res;
}

}  // namespace instseg
