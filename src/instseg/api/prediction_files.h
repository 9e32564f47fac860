// Per-image prediction files of `instseg predict --save-pred` / `--save-masks`,
// in mmdetection 3.x DetInferencer's layout (<out-dir>/preds/<name>.json):
//
//   {"labels": [0, 2], "scores": [0.98, 0.41], "bboxes": [[x1, y1, x2, y2], ...],
//    "masks": [{"size": [h, w], "counts": "<COCO compressed RLE>"}, ...]}
//
// plus instseg's "image_id", "height", "width" and "class_names"; with PNG
// masks, "mask_files" (one 8-bit 0/255 PNG per instance, at the image's size,
// <stem>_<k>.png) instead of "masks".
//
//   nlohmann::ordered_json j = prediction_to_json(p, MaskFormat::rle);   // p from a Predictor with rle = true
//   std::vector<std::string> pngs = save_mask_pngs(p, "out/masks", "street");
#pragma once
#include "instseg/inference/prediction.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace instseg {

enum class MaskFormat { none, rle, png };

// "none" | "rle" | "png" -> MaskFormat; anything else throws naming the value.
MaskFormat parse_mask_format(const std::string& name);

// One image's instances as JSON (see above). MaskFormat::rle needs p.rles
// (PredictorOptions::rle); MaskFormat::png lists `mask_files`. Throws when
// the RLE strings are missing.
nlohmann::ordered_json prediction_to_json(const Prediction& p, MaskFormat masks,
                                          const std::vector<std::string>& mask_files = {});

// Writes instance k's mask as <dir>/<stem>_<k>.png (0/255, 8-bit grey, the
// image's size; the directory is created) and returns the file names. Needs
// p.masks (PredictorOptions::masks). Errors name the file.
std::vector<std::string> save_mask_pngs(const Prediction& p, const std::string& dir, const std::string& stem);

}  // namespace instseg
