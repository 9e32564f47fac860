// Plain data that flows between the data pipeline, the models and the
// evaluator. No methods beyond trivial helpers: functions live next to the code
// that needs them.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// Per-image geometry, as mmdetection's data samples carry it.
struct ImageMeta {
  int64_t image_id = -1;       // COCO image id (-1 when unknown)
  std::string file;            // source file, for messages and overlays
  int64_t ori_h = 0, ori_w = 0;  // ori_shape: the decoded image
  int64_t img_h = 0, img_w = 0;  // img_shape: after resize, before padding
  int64_t pad_h = 0, pad_w = 0;  // batch_input_shape: the padded batch
  double scale_w = 1.0, scale_h = 1.0;  // scale_factor (w, h) = img / ori
  bool flip = false;           // flipped by the pipeline (RandomFlip)
  std::string flip_direction;  // "horizontal" | "vertical" | "diagonal" when flip
};

// Ground truth of one image in padded-input pixels.
struct GtInstances {
  at::Tensor bboxes;  // [N,4] float32 xyxy
  at::Tensor labels;  // [N] int64 contiguous labels 0..C-1
  at::Tensor masks;   // [N,H,W] uint8 {0,1}, H,W = padded input size
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// A batch ready for a model.
struct Batch {
  at::Tensor images;               // [B,3,H,W] float32, normalised and padded
  std::vector<ImageMeta> metas;    // B entries
  std::vector<GtInstances> gts;    // B entries for training, empty for inference
  int64_t size() const { return static_cast<int64_t>(metas.size()); }
};

// Detections of one image, in the original image frame.
struct Instances {
  at::Tensor labels;  // [K] int64
  at::Tensor scores;  // [K] float32, descending
  at::Tensor bboxes;  // [K,4] float32 xyxy, original-image pixels
  at::Tensor masks;   // [K,ori_h,ori_w] uint8 {0,1}
  int64_t image_id = -1;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

}  // namespace instseg
