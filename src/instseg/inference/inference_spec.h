// Everything inference needs besides the weights, as plain options: what
// config/build_inference.h reads from a config file, or what an application
// without config files fills in itself.
#pragma once
#include "instseg/core/compat.h"
#include "instseg/inference/preprocess.h"
#include "instseg/models/model.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct InferenceSpec {
  ModelSpec model;                      // the `model` dict (data_preprocessor included)
  optional<TestResize> resize = TestResize{};  // the test pipeline's Resize; nullopt: none
  // Non-empty when the config's test pipeline has steps the tensor
  // preprocessing (inference/preprocess.h) cannot do; the tensor entry then
  // refuses with this text, the OpenCV entry runs the pipeline as is.
  std::string tensor_pipeline_error;
  std::vector<std::string> class_names;  // metainfo.classes; empty: the checkpoint's, else defaults
  std::vector<std::array<uint8_t, 3>> palette;  // metainfo.palette (RGB); empty: per-instance colours
  std::string name;                      // the config file, for messages ("" when built in code)
};

}  // namespace instseg
