#include "instseg/inference/prediction.h"

#include "instseg/core/check.h"
#include "instseg/eval/rle.h"
#include "instseg/inference/predict_batch.h"

#include <ATen/ATen.h>

namespace instseg {

Prediction make_prediction(const Instances& det, const ImageMeta& meta, const std::vector<std::string>& class_names,
                           const PredictionOptions& o) {
  const Instances kept = filter_by_score(det, o.score_thr);
  Prediction p;
  p.image_id = det.image_id;
  p.height = meta.ori_h;
  p.width = meta.ori_w;
  const int64_t k = kept.size();
  p.labels = kept.labels.defined() ? kept.labels : at::zeros({0}, at::kLong);
  p.scores = kept.scores.defined() ? kept.scores : at::zeros({0}, at::kFloat);
  p.boxes = kept.bboxes.defined() && kept.bboxes.numel() == 4 * k ? kept.bboxes : at::zeros({k, 4}, at::kFloat);
  p.class_names.reserve(static_cast<size_t>(k));
  const int64_t* lp = p.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < k; ++i) {
    const int64_t l = lp[i];
    p.class_names.push_back(l >= 0 && l < static_cast<int64_t>(class_names.size()) ? class_names[l]
                                                                                   : "class " + std::to_string(l));
  }
  const bool have_masks = kept.masks.defined() && kept.masks.dim() == 3 && kept.masks.size(0) == k;
  if (have_masks)
    INSTSEG_CHECK(kept.masks.size(1) == p.height && kept.masks.size(2) == p.width, "masks are ",
                  kept.masks.size(2), "x", kept.masks.size(1), ", the image is ", p.width, "x", p.height);
  if (o.rle && have_masks) {
    const at::Tensor m = kept.masks.to(at::kByte).contiguous();
    const uint8_t* base = m.data_ptr<uint8_t>();
    for (int64_t i = 0; i < k; ++i)
      p.rles.push_back(rle::to_string(rle::encode(base + i * p.height * p.width, p.height, p.width)));
  }
  if (o.masks && have_masks) p.masks = kept.masks.to(at::kByte);
  return p;
}

Instances to_instances(const Prediction& p) {
  Instances inst;
  inst.image_id = p.image_id;
  inst.labels = p.labels;
  inst.scores = p.scores;
  inst.bboxes = p.boxes;
  inst.masks = p.masks;
  return inst;
}

}  // namespace instseg
