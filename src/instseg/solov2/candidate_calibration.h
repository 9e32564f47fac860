// Benchmark calibration of a randomly initialised SOLOv2: how much work its
// post-processing gets.
//
// A fresh SOLOv2 head scores every (cell, class) pair ~0.01 (the focal-loss
// prior bias), so nothing passes score_thr and Matrix NMS, mask thresholding
// and the final upsampling would have nothing to do: a benchmark with random
// weights would time an empty post-processing. This spreads class 0's logits
// over the grid (its conv_cls weights x20) and shifts class 0's bias so that
// exactly `target` point-NMS survivors of the first image score above
// test_cfg.score_thr, the workload a trained model gives on a busy photo
// (mmdetection's nms_pre is 500; 100-300 candidates is typical on COCO).
// For timing only: it changes the weights in place. Used by `instseg bench`
// (api/benchmark) and bench/bench_models.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace instseg {

class SOLOv2Impl;

// images: [N,3,H,W] preprocessed batch (only image 0 is used). Returns the
// logit shift applied to class 0's bias. target >= 0 (fewer when the grid has
// fewer point-NMS survivors).
double calibrate_solov2_candidates(SOLOv2Impl& model, const at::Tensor& images, int64_t target);

// The shift of class 0's logits that puts `score_thr` between the target-th
// and (target+1)-th largest point-NMS survivor of image 0, given the head's
// category outputs (cls_preds: per level [N,C,S,S] logits). For sweeps that
// shift copies of the outputs instead of the weights (bench_models --post-sweep).
// *applied (optional): the count reached, min(target, survivors).
double candidate_logit_shift(const std::vector<at::Tensor>& cls_preds, int64_t target, double score_thr,
                             int64_t* applied = nullptr);

}  // namespace instseg
