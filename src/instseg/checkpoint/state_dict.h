// state_dict() / load_state_dict() for LibTorch modules, with Python's key order
// and names: for each module its own parameters, then its own buffers, then its
// children depth-first, joined with '.'. Since registered names equal
// mmdetection's, the keys equal the mmdetection checkpoint's keys
// (BatchNorm's num_batches_tracked included).
#pragma once
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/structures/tensor_dict.h"

#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace instseg {

// Parameters and buffers (undefined ones skipped), sharing storage with the module.
TensorDict module_state_dict(const torch::nn::Module& module);

struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the dict
  std::vector<std::string> unexpected;  // in the dict, not in the module
  std::vector<std::string> mismatched;  // "key: checkpoint [a, b] vs model [c, d]" (not copied)
  size_t loaded = 0;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // "missing 2 keys: a, b; unexpected 1 key: c" (first few of each), "" when ok().
  std::string summary(size_t max_names = 5) const;
};

// Copies matching entries into the module's parameters and buffers (no_grad, converting dtype
// and device). With strict, any missing / unexpected / mismatched key throws instseg::Error
// carrying the summary, before anything is copied.
LoadReport load_state_dict_into(torch::nn::Module& module, const TensorDict& state_dict, bool strict);

// Keys of the floating-point tensors holding NaN or inf, in dict order.
std::vector<std::string> nonfinite_tensors(const TensorDict& state_dict);

struct WeightsFileOptions {
  bool strict = true;          // missing / unexpected / shape-mismatched keys are errors
  std::string config;          // the config the model was built from, for messages ("" = not said)
  bool allow_nonfinite = false;
};

// A checkpoint file's weights into `module`: read_pth + find_weights +
// tensor_entries (a leading "module." stripped) + checks + load_state_dict_into.
// Every error names the file and the config:
//   "<ckpt>: does not match the model of config <cfg>: missing 2 keys: ...; shape-mismatched 1 key: ..."
//   "<ckpt>: 3 of 120 tensors contain non-finite values (NaN/inf): a.weight, ..."
// With strict = false the mismatches are only reported (LoadReport). `file`
// (optional) receives the parsed file (meta, other entries).
LoadReport load_weights_file(torch::nn::Module& module, const std::string& path,
                             const WeightsFileOptions& options = {}, PthFile* file = nullptr);

// The same for weights already read from `path` (tensor_entries of its weights dict).
LoadReport load_weights_checked(torch::nn::Module& module, const TensorDict& weights, const std::string& path,
                                const WeightsFileOptions& options = {});

// Throws the error above for a LoadReport that is not ok() (used by
// load_weights_file and the training checkpoint loader).
void check_load_report(const LoadReport& report, const std::string& path, const std::string& config);
// Throws the non-finite error above when any tensor of `weights` holds NaN/inf.
void check_finite_weights(const TensorDict& weights, const std::string& path);

}  // namespace instseg
