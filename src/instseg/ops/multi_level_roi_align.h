// RoI features from an FPN pyramid: each RoI is pooled from one level chosen by
// its size (mmdetection's SingleRoIExtractor).
#pragma once
#include "instseg/ops/roi_align.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace instseg {

struct MultiLevelRoIAlignOptions {
  int64_t output_size = 7;
  std::vector<double> strides{4, 8, 16, 32};  // featmap_strides, finest first
  int64_t sampling_ratio = 2;
  bool aligned = true;
  double finest_scale = 56;  // RoIs with sqrt(area) < 2 * finest_scale go to level 0
};

// Level of each RoI: floor(log2(sqrt(w*h) / finest_scale + 1e-6)), clamped to
// [0, num_levels-1]. rois [K,5] (batch, x1, y1, x2, y2) -> [K] int64.
at::Tensor map_roi_levels(const at::Tensor& rois, int64_t num_levels, double finest_scale = 56);

// feats: num_levels tensors [B,C,Hl,Wl] (level l has stride strides[l]);
// rois [K,5] in input pixels. Returns [K,C,S,S], S = output_size;
// differentiable w.r.t. feats.
at::Tensor multi_level_roi_align(const std::vector<at::Tensor>& feats, const at::Tensor& rois,
                                 const MultiLevelRoIAlignOptions& opt);

}  // namespace instseg
