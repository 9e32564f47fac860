// Batch assembly = mmdet 3's DetDataPreprocessor on CPU: normalise (RGB mean
// / std, float32), pad every image at the bottom/right to the batch's max
// size rounded up to size_divisor (pad value 0 after normalisation), pad
// masks with 0 (pad_mask=True), drop ignored (crowd) instances.
#pragma once
#include <array>
#include <vector>

#include "instseg/io/sample.h"
#include "instseg/structures/instances.h"

namespace instseg {

struct CollateOptions {
  std::array<double, 3> mean = {123.675, 116.28, 103.53};  // RGB
  std::array<double, 3> std = {58.395, 57.12, 57.375};
  int64_t size_divisor = 32;
  double pad_value = 0;
  bool with_gt = true;    // fill Batch::gts (training); false: empty gts
  bool with_mask = true;  // gts[i].masks [N,pad_h,pad_w]; false: left undefined
};

// One image's normalised [3,H,W] float32 tensor (mmdet: (x - mean) / std in float32).
at::Tensor normalize_image(const cv::Mat& rgb, const CollateOptions& o);

// Samples -> Batch. Sets metas' pad_h/pad_w. Boxes are in input pixels
// (unchanged by padding); masks become [N,pad_h,pad_w] uint8.
Batch collate(const std::vector<Sample>& samples, const CollateOptions& o);

}  // namespace instseg
