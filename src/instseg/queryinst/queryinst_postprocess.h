// QueryInst's target and output geometry: mask targets for training and the
// inference post-processing (top-k without NMS, mask pasting).
#pragma once
#include "instseg/structures/instances.h"

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace instseg {

// mmdet mask_target with BitmapMasks.crop_and_resize: each positive's matched
// GT mask cut with its (detached) predicted box, clipped to the mask size,
// RoIAlign'ed (aligned, sampling_ratio 0, scale 1) to size x size, then >= 0.5.
// boxes [P,4] xyxy; gt_masks [G,H,W] (any dtype); gt_inds [P] 0-based.
// Returns [P,size,size] float {0,1}.
at::Tensor queryinst_mask_targets(const at::Tensor& boxes, const at::Tensor& gt_masks,
                                  const at::Tensor& gt_inds, int64_t size = 28);

// mmdet _do_paste_mask with skip_empty (its CPU path), one mask at a time:
// probabilities masks [K,h,w] resampled (grid_sample bilinear,
// align_corners=false, pixel centres at +0.5) into an img_h x img_w canvas
// inside the box (+1 px margin), then >= threshold. boxes [K,4] xyxy in canvas
// pixels. Returns uint8 [K,img_h,img_w] {0,1}.
at::Tensor paste_masks(const at::Tensor& masks, const at::Tensor& boxes, int64_t img_h,
                       int64_t img_w, double threshold = 0.5);

// SparseRoIHead.predict_bbox + predict_mask for one image:
// cls_score [N,C] logits, boxes [N,4] (img_shape frame), mask_logits [N,C,28,28].
// Top-k (k = min(max_per_img, N*C)) of sigmoid scores over proposals x
// classes, no NMS and no score threshold; boxes divided by (scale_w, scale_h);
// masks pasted at ori size. Instances sorted by descending score.
Instances queryinst_postprocess(const at::Tensor& cls_score, const at::Tensor& boxes,
                                const at::Tensor& mask_logits, const ImageMeta& meta,
                                int64_t max_per_img, double mask_thr_binary);

}  // namespace instseg
