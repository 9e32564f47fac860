#include "instseg/io/instances_to_results.h"

#include "instseg/core/check.h"
#include "instseg/eval/rle.h"

#include <ATen/ATen.h>

namespace instseg {

void append_results(const Instances& inst, const std::vector<int64_t>& label_to_cat, bool bbox_from_mask,
                    std::vector<CocoResult>* out) {
  const int64_t n = inst.size();
  if (n == 0) return;
  INSTSEG_CHECK(inst.scores.defined() && inst.scores.numel() == n, "append_results: scores must have ", n,
                " entries");
  const bool has_masks = inst.masks.defined() && inst.masks.numel() > 0;
  const bool has_boxes = inst.bboxes.defined() && inst.bboxes.numel() > 0;
  INSTSEG_CHECK(has_masks || has_boxes, "append_results: instances have neither masks nor boxes");
  const at::Tensor labels = inst.labels.to(at::kCPU, at::kLong).contiguous();
  const at::Tensor scores = inst.scores.to(at::kCPU, at::kFloat).contiguous();
  at::Tensor boxes, masks;
  if (has_boxes) {
    boxes = inst.bboxes.to(at::kCPU, at::kFloat).contiguous();
    INSTSEG_CHECK(boxes.dim() == 2 && boxes.size(0) == n && boxes.size(1) == 4, "append_results: bboxes must be [",
                  n, ",4], got ", boxes.sizes());
  }
  if (has_masks) {
    masks = inst.masks.to(at::kCPU, at::kByte).contiguous();
    INSTSEG_CHECK(masks.dim() == 3 && masks.size(0) == n, "append_results: masks must be [", n, ",H,W], got ",
                  masks.sizes());
  }
  const int64_t* lab = labels.data_ptr<int64_t>();
  const float* sc = scores.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    INSTSEG_CHECK(lab[i] >= 0 && lab[i] < static_cast<int64_t>(label_to_cat.size()), "append_results: label ",
                  lab[i], " has no COCO category id (", label_to_cat.size(), " known)");
    CocoResult r;
    r.image_id = inst.image_id;
    r.category_id = label_to_cat[lab[i]];
    r.score = static_cast<double>(sc[i]);
    rle::Rle m;
    if (has_masks) {
      const int64_t h = masks.size(1), w = masks.size(2);
      m = rle::encode(masks.data_ptr<uint8_t>() + i * h * w, h, w);
      r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
      r.segmentation.h = h;
      r.segmentation.w = w;
      r.segmentation.counts = rle::to_string(m);
    }
    r.has_bbox = true;
    if (has_masks && (bbox_from_mask || !has_boxes)) {
      rle::to_bbox(m, r.bbox);
    } else {
      // mmdet xyxy2xywh on a float32 array: w = x2 - x1 in float32.
      const float* b = boxes.data_ptr<float>() + i * 4;
      r.bbox[0] = b[0];
      r.bbox[1] = b[1];
      r.bbox[2] = static_cast<float>(b[2] - b[0]);
      r.bbox[3] = static_cast<float>(b[3] - b[1]);
    }
    out->push_back(std::move(r));
  }
}

}  // namespace instseg
