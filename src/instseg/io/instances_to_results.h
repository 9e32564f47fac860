// Model outputs (Instances) -> COCO results entries (io/results_json.h).
// Kept apart from the results file reader/writer because it reads tensors:
// results_json is LibTorch-free (instseg_io_coco, linked by `instseg eval`).
#pragma once
#include "instseg/io/results_json.h"
#include "instseg/structures/instances.h"

#include <cstdint>
#include <vector>

namespace instseg {

// Appends one image's detections: masks -> compressed RLE strings, labels ->
// COCO ids through label_to_cat, bbox = xywh of `bboxes` (float32 arithmetic,
// as mmdet's xyxy2xywh) or, with bbox_from_mask or when no boxes are given,
// the mask's toBbox. Instances without masks give bbox-only entries.
void append_results(const Instances& inst, const std::vector<int64_t>& label_to_cat, bool bbox_from_mask,
                    std::vector<CocoResult>* out);

}  // namespace instseg
