// A config -> what inference needs (inference/inference_spec.h), read once:
// the model, the test pipeline, the class names and palette of the test
// dataset's metainfo and its annotation file. The Predictor and
// `instseg predict` use it.
//
//   ConfigNode cfg = load_config_with_overrides("configs/x.yaml", cfg_options);
//   InferenceConfig ic = inference_config_from(cfg, "configs/x.yaml");
//
// The test pipeline is test_dataloader.dataset.pipeline, else test_pipeline,
// else Resize(scale=(1333, 800), keep_ratio=True) (mmdet's default test scale).
#pragma once
#include "instseg/config/config_tree.h"
#include "instseg/inference/inference_spec.h"
#include "instseg/io/transforms.h"

#include <string>
#include <vector>

namespace instseg {

struct InferenceConfig {
  InferenceSpec spec;                  // model, tensor-path resize, classes, palette, name
  std::vector<TransformSpec> pipeline;  // the test pipeline for the OpenCV path (io/transforms.h)
  std::string ann_file;                 // test_dataloader's annotation file ("" when none)
};

// `name` (the config file) is kept for messages.
InferenceConfig inference_config_from(const ConfigNode& cfg, const std::string& name);

// The tensor preprocessing's view of a test pipeline: nothing (no resize),
// or one Resize. Anything else: nullopt with *error saying what it cannot do.
optional<TestResize> test_resize_of(const std::vector<TransformSpec>& pipeline, std::string* error);

}  // namespace instseg
