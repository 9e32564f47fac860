// Test-time preprocessing without OpenCV: mmdetection's test pipeline
// (Resize keep-ratio with cv2's INTER_LINEAR numerics, ops/resize.h) and
// DetDataPreprocessor (Normalize, Pad to a multiple of size_divisor) on
// decoded RGB uint8 tensors. Bit-identical to the OpenCV data path
// (io/transforms + io/collate) that `instseg test` and training use; the
// tests check it.
//
//   TestPreprocess p = test_preprocess_from(spec.preprocess, TestResize{1333, 800, true});
//   Batch b = preprocess_tensors({rgb_hwc_uint8}, p);
#pragma once
#include "instseg/core/compat.h"
#include "instseg/models/model.h"
#include "instseg/structures/instances.h"

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace instseg {

// mmdet's Resize(scale=(scale_w, scale_h), keep_ratio) in a test pipeline.
struct TestResize {
  int64_t scale_w = 1333, scale_h = 800;
  bool keep_ratio = true;
};

struct TestPreprocess {
  optional<TestResize> resize = TestResize{};  // nullopt: images keep their size
  std::array<double, 3> mean = {123.675, 116.28, 103.53};  // RGB
  std::array<double, 3> std = {58.395, 57.12, 57.375};
  int64_t size_divisor = 32;
  double pad_value = 0;
};

// The model's data_preprocessor with the given resize. bgr_to_rgb = false is
// rejected (inputs are RGB).
TestPreprocess test_preprocess_from(const PreprocessOptions& p, optional<TestResize> resize);

// One image: uint8 [H,W,3] RGB on the CPU -> the resized uint8 [h,w,3]
// (contiguous) and `meta`'s ori_*, img_*, scale_* (pad_* are set by collate).
at::Tensor resize_for_test(const at::Tensor& rgb, const TestPreprocess& p, ImageMeta* meta);

// Resized images -> Batch: (x - mean) / std in float32, padded at the bottom
// and right to the largest size rounded up to size_divisor (pad_value), as
// io/collate does. metas[i] gets img_* and pad_*.
Batch collate_tensors(const std::vector<at::Tensor>& resized, std::vector<ImageMeta> metas, const TestPreprocess& p);

// resize_for_test on each image, then collate_tensors. image_ids: one per
// image, or empty (then 0, 1, ...).
Batch preprocess_tensors(const std::vector<at::Tensor>& rgb, const TestPreprocess& p,
                         const std::vector<int64_t>& image_ids = {});

}  // namespace instseg
