// How a Predictor (api/predictor.h) or TensorPredictor
// (inference/tensor_predictor.h) runs: device, score threshold, outputs,
// batching, config overrides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct PredictorOptions {
  std::string device = "auto";  // "auto" (CUDA when available), "cpu", "cuda", "cuda:N"
  double score_thr = 0.3;       // drop instances scoring below (mmdet's image demo default)
  bool masks = true;            // Prediction::masks (dense [K,H,W] uint8)
  bool rle = false;             // Prediction::rles (COCO compressed RLE strings)
  int64_t batch_size = 1;       // images per network pass when predicting a list
  // mmdetection's numerics bit for bit: no inference graph changes (BatchNorm
  // folding, channels-last; inference_model.h's InferenceGraphOptions), which
  // otherwise change results by float rounding only and run ~1.5-2x faster on CPU.
  bool exact = false;
  // The network's precision: "fp32", or autocast to "bf16" (CPU with native
  // bf16, e.g. AVX512-BF16/AMX; CUDA) or "fp16" (CUDA only). The stem, the
  // neck's outputs, SOLOv2's category branch and the post-processing stay fp32
  // (InferenceGraphOptions::autocast_fp32_ends / autocast_fp32_category,
  // unless `exact`); docs/performance.md gives the speed and the deviation
  // from fp32.
  std::string dtype = "fp32";
  // `--cfg-options`-style overrides ("model.test_cfg.score_thr=0.05"), applied
  // to a config file before it is read (Predictor only).
  std::vector<std::string> cfg_options;
  // A COCO annotation file whose category ids (matched by class name) results
  // files use (Predictor::category_ids); empty: the config's test dataset
  // ann_file. `instseg predict --ann GT.json` sets it so `instseg eval` can
  // score the results against that file.
  std::string ann_file;
};

}  // namespace instseg
