// SOLOv2 training targets of one image (mmdet SOLOV2Head._get_targets_single):
// each GT goes to every level whose scale range holds sqrt(box w * box h);
// the cells of its centre region (sigma = pos_scale around the mask's centre
// of mass, at most 3x3 cells) get its label and a mask target = the GT mask
// rescaled by 1/mask_stride with cv2's bilinear resize (bit-exact emulation).
#pragma once
#include "instseg/solov2/options.h"
#include "instseg/structures/instances.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace instseg {

struct SOLOv2LevelTargets {
  at::Tensor labels;                // [S,S] int64, background = num_classes
  at::Tensor pos_mask;              // [S*S] bool
  at::Tensor mask_targets;          // [P,Hf,Wf] uint8 {0,1}, one per entry of pos_index
  std::vector<int64_t> pos_index;   // i*S + j, grid order; may repeat when GTs share a cell
};

// gt: bboxes [N,4] xyxy and masks [N,H,W] in padded-input pixels, labels [N].
// feat_h, feat_w: mask feature size (padded input / mask_stride).
std::vector<SOLOv2LevelTargets> solov2_targets_single(const GtInstances& gt, int64_t feat_h, int64_t feat_w,
                                                      const SOLOv2HeadOptions& options);

// mmdet center_of_mass: (row, col) float32 scalars of a [H,W] mask.
std::pair<at::Tensor, at::Tensor> center_of_mass(const at::Tensor& mask);

}  // namespace instseg
