// What a Predictor returns for one image, in the original image's pixels.
#pragma once
#include "instseg/structures/instances.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// What to keep and what to produce per image.
struct PredictionOptions {
  double score_thr = 0.3;  // drop instances scoring below (mmdet's image demo default)
  bool masks = true;       // dense masks [K,H,W]
  bool rle = false;        // COCO compressed RLE strings (column-major, pycocotools' encode)
};

// One image's instances, K of them, best score first.
struct Prediction {
  int64_t image_id = -1;          // the caller's id (predict of a list: the index unless given)
  int64_t height = 0, width = 0;  // the input image's size
  at::Tensor labels;              // [K] int64, class index 0..C-1
  std::vector<std::string> class_names;  // [K] the labels' names
  at::Tensor scores;              // [K] float32, descending
  at::Tensor boxes;               // [K,4] float32 x1 y1 x2 y2 in input pixels
  at::Tensor masks;               // [K,height,width] uint8 {0,1}; undefined unless PredictionOptions::masks
                                  // (and for models without a mask head)
  std::vector<std::string> rles;  // [K] COCO "counts" strings of size [height,width], when PredictionOptions::rle

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// A model's Instances (CPU) -> Prediction: score filter, class names
// (label -> class_names[label], "class <label>" beyond the list), RLE when
// asked, dense masks dropped when not.
Prediction make_prediction(const Instances& det, const ImageMeta& meta, const std::vector<std::string>& class_names,
                           const PredictionOptions& options);

// The instances as the rest of the library takes them (results JSON, drawing).
Instances to_instances(const Prediction& p);

}  // namespace instseg
