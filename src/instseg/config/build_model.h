// mmdetection's `model` dict -> ModelSpec (an explicit switch on model.type).
//
//   ConfigNode cfg = load_config("configs/solov2/solov2_r50_fpn_1x_coco.yaml");
//   ModelSpec spec = model_spec_from(cfg);          // reads cfg["model"]
//   auto model = build_model(spec);
//
// Every key of the model dict must be known (unknown keys are errors naming
// the path and the closest known key).
#pragma once
#include "instseg/config/config_reader.h"
#include "instseg/models/model.h"

namespace instseg {

// Reads root["model"] (its `type`: SOLOv2 or QueryInst; SparseRCNN too, as
// QueryInst without mask heads).
ModelSpec model_spec_from(const ConfigNode& root);

// The pieces, for tests and other builders.
SOLOv2Options solov2_options_from(ConfigReader& model);
QueryInstOptions queryinst_options_from(ConfigReader& model, bool with_mask);
PreprocessOptions preprocess_options_from(ConfigReader& data_preprocessor);

}  // namespace instseg
