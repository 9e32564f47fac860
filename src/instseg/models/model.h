// Building a detector: an explicit switch on the model kind, no registry.
// Config parsing (mmdetection's `model` dict -> ModelSpec) lives in
// src/instseg/config/build_model.h; this file only needs options.
#pragma once
#include "instseg/checkpoint/load_weights.h"
#include "instseg/core/compat.h"
#include "instseg/models/detector.h"
#include "instseg/queryinst/queryinst.h"
#include "instseg/solov2/solov2.h"

#include <memory>
#include <string>

namespace instseg {

enum class ModelKind { solov2, queryinst };

// mmdetection's `model.type` for each kind ("SOLOv2", "QueryInst").
const char* model_kind_name(ModelKind kind);

// mmdet DetDataPreprocessor: what the data pipeline must do before the model.
struct PreprocessOptions {
  std::vector<double> mean{123.675, 116.28, 103.53};  // RGB order after bgr_to_rgb
  std::vector<double> std{58.395, 57.12, 57.375};
  bool bgr_to_rgb = true;
  int64_t pad_size_divisor = 32;
  double pad_value = 0.0;
  bool pad_mask = true;
};

struct ModelSpec {
  ModelKind kind = ModelKind::solov2;
  PreprocessOptions preprocess;
  SOLOv2Options solov2;        // used when kind == solov2
  QueryInstOptions queryinst;  // used when kind == queryinst
};

// A freshly initialised model (mmdetection's init_weights), in training mode.
std::shared_ptr<DetectorImpl> build_model(const ModelSpec& spec);

// The backbone's spec of either model kind.
const BackboneSpec& backbone_spec(const ModelSpec& spec);

// The rest of mmengine's init_weights, the part that reads files: the
// backbone's init_cfg Pretrained checkpoint (backbone/pretrained.h) loaded
// into model.backbone; nullopt when the config has none. `instseg train` calls
// it after build_model and before load_from (mmengine's order: init_weights,
// then load_from overwrites what it has); inference never does.
optional<LoadedWeights> init_pretrained_weights(DetectorImpl& model, const ModelSpec& spec);

// Number of elements over all parameters.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace instseg
