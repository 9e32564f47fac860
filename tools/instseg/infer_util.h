// What `instseg test` and `instseg predict` share: a model built from a config
// with a checkpoint loaded strictly, ready for inference on a device, and
// running it on pipeline-transformed samples.
#pragma once
#include "instseg/config/config_tree.h"
#include "instseg/io/collate.h"
#include "instseg/io/sample.h"
#include "instseg/models/model.h"

#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

namespace instseg::cli {

struct InferenceModel {
  ConfigNode cfg;  // the config after --cfg-options
  ModelSpec spec;
  std::shared_ptr<DetectorImpl> model;  // eval mode, on `device`
  c10::Device device = c10::Device(c10::kCPU);
  CollateOptions collate;               // the model's data_preprocessor, with_gt = false
  std::vector<std::string> ckpt_classes;  // checkpoint meta.dataset_meta.classes (mmdet), may be empty
};

// "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N".
c10::Device parse_device(const std::string& name);

// load_config_with_overrides + model_spec_from + build_model + strict
// checkpoint load + eval() + to(device); the checkpoint's class names, when
// there are num_classes() of them, become the model's class_names().
InferenceModel load_inference_model(const std::string& config, const std::string& checkpoint,
                                    const std::vector<std::string>& cfg_options, const std::string& device);

// Collate + predict under NoGradGuard; results on the CPU with image_id taken
// from the metas.
std::vector<Instances> predict_samples(InferenceModel& m, const std::vector<Sample>& samples);

// Keeps the instances with score >= thr.
Instances filter_by_score(const Instances& inst, double thr);

// The file name without directory and extension ("a/b.c.png" -> "b.c").
std::string file_stem(const std::string& path);

}  // namespace instseg::cli
