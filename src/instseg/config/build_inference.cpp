#include "instseg/config/build_inference.h"

#include "instseg/config/build_data.h"
#include "instseg/config/build_model.h"

namespace instseg {

optional<TestResize> test_resize_of(const std::vector<TransformSpec>& pipeline, std::string* error) {
  error->clear();
  if (pipeline.empty()) return nullopt;
  if (pipeline.size() == 1) {
    if (const auto* r = std::get_if<ResizeOptions>(&pipeline.front().op))
      return TestResize{r->scale.w, r->scale.h, r->keep_ratio};
  }
  *error =
      "the test pipeline has steps other than one Resize (random resizes, flips or crops): predicting on "
      "tensors supports one Resize only; use the cv::Mat entry, or change the pipeline with cfg_options";
  return TestResize{};
}

InferenceConfig inference_config_from(const ConfigNode& cfg, const std::string& name) {
  InferenceConfig ic;
  ic.spec.name = name;
  ic.spec.model = model_spec_from(cfg);
  ic.pipeline = test_pipeline();
  if (cfg.contains("test_dataloader") && !cfg["test_dataloader"].is_null()) {
    const DataloaderSpec dl = dataloader_spec_from(cfg, "test_dataloader");
    ic.pipeline = dl.dataset.coco.pipeline;
    ic.spec.class_names = dl.dataset.coco.classes;
    ic.spec.palette = dl.dataset.palette;
    ic.ann_file = dl.dataset.coco.ann_file;
  } else if (cfg.contains("test_pipeline") && !cfg["test_pipeline"].is_null()) {
    ic.pipeline = pipeline_spec_from(cfg["test_pipeline"], "test_pipeline").transforms;
  }
  ic.spec.resize = test_resize_of(ic.pipeline, &ic.spec.tensor_pipeline_error);
  return ic;
}

}  // namespace instseg
