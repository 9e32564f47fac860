// The one inference path. `instseg predict`, `instseg test`, the training
// validation loop (engine/evaluate.h), `instseg forward` and the Predictor
// run every batch through predict_batch():
//
//   std::vector<Instances> dets = predict_batch(*model, batch, device);
//
// It moves the images to `device`, runs DetectorImpl::predict without
// autograd, checks that there is one result per image, moves the results to
// the CPU and sets each result's image_id from the batch's metas. The model
// must be in eval mode (prepare_for_inference, inference_model.h).
#pragma once
#include "instseg/models/detector.h"
#include "instseg/structures/instances.h"

#include <c10/core/Device.h>

#include <vector>

namespace instseg {

// batch: images [B,3,H,W] float32 normalised and padded (any device), B metas.
// Returns B Instances on the CPU (labels [K] int64, scores [K] float32,
// bboxes [K,4] float32, masks [K,ori_h,ori_w] uint8), in the batch's order.
std::vector<Instances> predict_batch(DetectorImpl& model, const Batch& batch, const c10::Device& device);

// The instances with score >= thr (all tensors indexed alike; image_id kept).
Instances filter_by_score(const Instances& inst, double thr);

}  // namespace instseg
