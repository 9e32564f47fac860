// Instance segmentation of decoded RGB tensors, with LibTorch alone (no
// OpenCV, no config files): the core of instseg::Predictor (api/predictor.h),
// for applications that decode images themselves.
//
//   InferenceSpec spec;                       // or config/build_inference.h
//   spec.model = ...;                         // ModelSpec of the checkpoint's model
//   TensorPredictor p(spec, "solov2.pth");    // PredictorOptions: device, score_thr, ...
//   at::Tensor rgb = ...;                     // uint8 [H,W,3] RGB
//   Prediction r = p.predict(rgb);            // r.labels, r.scores, r.boxes, r.masks
//
// predict = postprocess(forward(preprocess(images))); the stages are public
// so that benchmarks can time them and applications can batch or stream as
// they like. Not thread-safe: use one TensorPredictor per thread (several
// may run at the same time).
#pragma once
#include "instseg/core/autocast.h"
#include "instseg/inference/inference_model.h"
#include "instseg/inference/inference_spec.h"
#include "instseg/inference/prediction.h"
#include "instseg/inference/predictor_options.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

class TensorPredictor {
 public:
  TensorPredictor(InferenceSpec spec, const std::string& checkpoint, PredictorOptions options = {});
  TensorPredictor(TensorPredictor&&) = default;
  TensorPredictor& operator=(TensorPredictor&&) = default;
  TensorPredictor(const TensorPredictor&) = delete;
  TensorPredictor& operator=(const TensorPredictor&) = delete;

  // rgb: uint8 [H,W,3] RGB (any layout, CPU or not).
  Prediction predict(const at::Tensor& rgb, int64_t image_id = 0);
  // In batches of options().batch_size; image_ids: one per image or empty (0, 1, ...).
  std::vector<Prediction> predict(const std::vector<at::Tensor>& rgb, const std::vector<int64_t>& image_ids = {});

  // The stages of predict().
  Batch preprocess(const std::vector<at::Tensor>& rgb, const std::vector<int64_t>& image_ids = {}) const;
  std::vector<Instances> forward(const Batch& batch);  // network + post-processing (predict_batch)
  std::vector<Prediction> postprocess(const std::vector<Instances>& dets, const Batch& batch) const;

  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  const std::vector<std::array<uint8_t, 3>>& palette() const { return spec_.palette; }
  const InferenceSpec& spec() const { return spec_; }
  const PredictorOptions& options() const { return options_; }
  const TestPreprocess& test_preprocess() const { return preprocess_; }
  const InferenceModel& model() const { return model_; }
  InferenceModel& model() { return model_; }
  PredictionOptions prediction_options() const;

 private:
  InferenceSpec spec_;
  PredictorOptions options_;
  InferenceModel model_;
  TestPreprocess preprocess_;
  std::vector<std::string> class_names_;
  AmpDtype amp_ = AmpDtype::none;  // options_.dtype
};

// predict() of a list in chunks: calls run(first, last) for [first, last)
// ranges of at most batch_size items. Shared by both predictors.
template <typename Run>
void for_each_batch(size_t n, int64_t batch_size, Run run) {
  const size_t bs = batch_size > 0 ? static_cast<size_t>(batch_size) : 1;
  for (size_t i = 0; i < n; i += bs) run(i, std::min(n, i + bs));
}

}  // namespace instseg
