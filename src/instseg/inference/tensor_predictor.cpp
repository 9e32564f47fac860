#include "instseg/inference/tensor_predictor.h"

#include "instseg/core/autocast.h"
#include "instseg/core/check.h"
#include "instseg/core/device.h"
#include "instseg/core/log.h"
#include "instseg/inference/predict_batch.h"

#include <algorithm>

namespace instseg {

TensorPredictor::TensorPredictor(InferenceSpec spec, const std::string& checkpoint, PredictorOptions options)
    : spec_(std::move(spec)), options_(std::move(options)) {
  INSTSEG_CHECK(options_.batch_size >= 1, "Predictor: batch_size must be >= 1, got ", options_.batch_size);
  INSTSEG_CHECK(options_.dtype == "fp32" || options_.dtype == "bf16" || options_.dtype == "fp16",
                "Predictor: dtype must be fp32, bf16 or fp16, got '", options_.dtype, "'");
  amp_ = parse_amp_dtype(options_.dtype);
  const c10::Device device = parse_device(options_.device);
  INSTSEG_CHECK(amp_ != AmpDtype::fp16 || device.is_cuda(), "Predictor: dtype fp16 needs a CUDA device (",
                options_.device, " is ", device.str(), "); on the CPU use bf16");
  model_ = load_inference_model(spec_.model, checkpoint, device, spec_.name,
                                options_.exact ? InferenceGraphOptions::exact() : InferenceGraphOptions{});
  DetectorImpl& m = *model_.model;
  // The config's metainfo.classes win over the checkpoint's (mmdet's order).
  if (!spec_.class_names.empty()) {
    if (static_cast<int64_t>(spec_.class_names.size()) == m.num_classes())
      m.set_class_names(spec_.class_names);
    else
      log_warning(spec_.name.empty() ? "config" : spec_.name, ": ", spec_.class_names.size(),
                  " class names (metainfo.classes) for a model with ", m.num_classes(), " classes; not used");
  }
  class_names_ = m.class_names();
  preprocess_ = test_preprocess_from(spec_.model.preprocess, spec_.resize);
}

PredictionOptions TensorPredictor::prediction_options() const {
  PredictionOptions o;
  o.score_thr = options_.score_thr;
  o.masks = options_.masks;
  o.rle = options_.rle;
  return o;
}

Batch TensorPredictor::preprocess(const std::vector<at::Tensor>& rgb, const std::vector<int64_t>& image_ids) const {
  if (!spec_.tensor_pipeline_error.empty()) fail(spec_.tensor_pipeline_error);
  return preprocess_tensors(rgb, preprocess_, image_ids);
}

std::vector<Instances> TensorPredictor::forward(const Batch& batch) {
  AutocastGuard ac(model_.device.type(), amp_);  // fp32: does nothing
  return predict_batch(*model_.model, batch, model_.device);
}

std::vector<Prediction> TensorPredictor::postprocess(const std::vector<Instances>& dets, const Batch& batch) const {
  INSTSEG_CHECK(dets.size() == batch.metas.size(), "postprocess: ", dets.size(), " results for ",
                batch.metas.size(), " images");
  const PredictionOptions po = prediction_options();
  std::vector<Prediction> out;
  out.reserve(dets.size());
  for (size_t i = 0; i < dets.size(); ++i) out.push_back(make_prediction(dets[i], batch.metas[i], class_names_, po));
  return out;
}

Prediction TensorPredictor::predict(const at::Tensor& rgb, int64_t image_id) {
  return predict(std::vector<at::Tensor>{rgb}, {image_id}).front();
}

std::vector<Prediction> TensorPredictor::predict(const std::vector<at::Tensor>& rgb,
                                                 const std::vector<int64_t>& image_ids) {
  INSTSEG_CHECK(image_ids.empty() || image_ids.size() == rgb.size(), "predict: ", image_ids.size(),
                " image ids for ", rgb.size(), " images");
  std::vector<Prediction> out;
  out.reserve(rgb.size());
  for_each_batch(rgb.size(), options_.batch_size, [&](size_t b, size_t e) {
    std::vector<at::Tensor> chunk(rgb.begin() + b, rgb.begin() + e);
    std::vector<int64_t> ids;
    for (size_t i = b; i < e; ++i) ids.push_back(image_ids.empty() ? static_cast<int64_t>(i) : image_ids[i]);
    const Batch batch = preprocess(chunk, ids);
    for (Prediction& p : postprocess(forward(batch), batch)) out.push_back(std::move(p));
  });
  return out;
}

}  // namespace instseg
