// Matrix NMS (SOLOv2 paper Sec. 2.2; mmdet mask_matrix_nms): soft,
// parallel decay of every mask's score by its IoU with higher-scoring masks
// of the same class, compensated by how much those were themselves suppressed.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace instseg {

struct MatrixNMSOptions {
  double filter_thr = -1;           // keep score >= filter_thr after decay (<= 0: keep all)
  int64_t nms_pre = -1;             // top-k by score before NMS (<= 0: all)
  int64_t max_num = -1;             // top-k after NMS (<= 0: all)
  std::string kernel = "gaussian";  // "gaussian": exp(-sigma*iou^2); "linear": 1 - iou
  double sigma = 2.0;
};

struct MatrixNMSResult {
  at::Tensor scores;     // [K] float, descending
  at::Tensor labels;     // [K] int64
  at::Tensor masks;      // [K,H,W] the kept input masks
  at::Tensor keep_inds;  // [K] int64 indices into the inputs
};

// masks: [N,H,W] binary (bool/uint8/float); labels: [N] int64; scores: [N];
// mask_area: [N] (optional; defaults to masks.sum((1,2))).
MatrixNMSResult mask_matrix_nms(const at::Tensor& masks, const at::Tensor& labels, const at::Tensor& scores,
                                const MatrixNMSOptions& options, const at::Tensor& mask_area = at::Tensor());

}  // namespace instseg
