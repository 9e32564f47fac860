// The one way a checkpoint's weights get into a model. `instseg train`
// (load_from, and resume through engine/train_checkpoint), `predict`, `test`,
// `forward` and the Predictor all call load_weights():
//
//   LoadWeightsOptions o;  o.strict = false;  o.target = "SOLOv2 of configs/x.yaml";
//   LoadedWeights w = load_weights(*model, "epoch_12.pth", o);
//   // w.report: missing / unexpected / shape-mismatched keys; w.dataset_meta.classes
//
// Keys are mmdetection's (state_dict / model / top level, a leading
// "module." stripped, as mmengine's load_checkpoint; `prefix` selects and
// strips a sub-module's keys). Errors name the checkpoint file and the model
// it was loaded into.
#pragma once
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"

#include <torch/nn/module.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct LoadWeightsOptions {
  // strict: any missing / unexpected / mis-shaped key is an error and nothing
  // is copied (inference, resume). Not strict: the matching keys are loaded
  // and the rest is reported as a warning (mmengine's load_from, fine-tuning
  // with another class count).
  bool strict = true;
  // What the weights go into, for messages: "the SOLOv2 model of configs/x.yaml".
  std::string target;
  // Log one line with the outcome (and the report as a warning when not ok).
  bool log = true;
  // NaN/inf in any floating-point tensor is an error naming the file and the
  // keys (a diverged run's checkpoint cannot give meaningful predictions);
  // `instseg inspect`-style tools that want to look at such a file set this.
  bool allow_nonfinite = false;
  // mmengine's load_checkpoint(prefix=): only the keys that start with
  // `prefix` are loaded, with it stripped ("backbone." takes a backbone out of
  // a detector checkpoint); a missing trailing '.' is added, as mmengine does.
  // No key with the prefix is an error naming the file. "" loads every key.
  std::string prefix;
};

// mmdetection's checkpoint meta.dataset_meta (empty when absent).
struct DatasetMeta {
  std::vector<std::string> classes;
  std::vector<std::array<uint8_t, 3>> palette;  // RGB
};

struct LoadedWeights {
  std::string checkpoint;    // the file
  std::string format;        // "zip" or "legacy"
  LoadReport report;         // what was loaded, missing, unexpected, mismatched
  DatasetMeta dataset_meta;  // meta.dataset_meta of the checkpoint
};

// Reads `checkpoint` and loads its weights into `model`. Throws instseg::Error
// "<checkpoint>: does not fit <target>: missing 2 keys: ..." (strict),
// "<checkpoint>: 3 of 120 tensors contain non-finite values (NaN/inf): ..." or
// naming the file for an unreadable one.
LoadedWeights load_weights(torch::nn::Module& model, const std::string& checkpoint,
                           const LoadWeightsOptions& options = {});

// The same for a file already read (engine's resume reads the optimizer state
// from the same file).
LoadedWeights load_weights(torch::nn::Module& model, const PthFile& file, const LoadWeightsOptions& options = {});

// meta.dataset_meta of a checkpoint's root object (classes as str list/tuple,
// palette as a list of 3-int sequences); entries of other shapes are ignored.
DatasetMeta read_dataset_meta(const PyValue& root);

}  // namespace instseg
