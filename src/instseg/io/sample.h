// One image with its annotations as it moves through the data pipeline
// (mmdetection's `results` dict of LoadImageFromFile + LoadAnnotations).
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "instseg/structures/instances.h"

namespace instseg {

struct Sample {
  cv::Mat image;                            // HxWx3 uint8, RGB
  std::vector<std::array<float, 4>> boxes;  // [N] xyxy float32, image pixels
  std::vector<int64_t> labels;              // [N] contiguous labels 0..C-1
  std::vector<uint8_t> ignore;              // [N] 1 = crowd (mmdet gt_ignore_flags)
  // [N] CV_8UC1 {0,1}, same size as image. Empty when masks are not loaded
  // and for ignored (crowd) instances: mmdet drops their masks when packing,
  // so they are never rasterised; their boxes still take part in RandomCrop.
  std::vector<cv::Mat> masks;
  ImageMeta meta;  // ori_*, img_*, scale_*, flip; pad_* are set by collate

  size_t num_instances() const { return labels.size(); }
  // Keeps instances whose keep[i] is nonzero (boxes, labels, ignore, masks).
  void select(const std::vector<uint8_t>& keep);
};

}  // namespace instseg
