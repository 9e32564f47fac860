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

// What load_state_dict_into would load, without copying anything.
LoadReport compare_state_dict(const torch::nn::Module& module, const TensorDict& state_dict);

// Copies matching entries into the module's parameters and buffers (no_grad, converting dtype
// and device). With strict, any missing / unexpected / mismatched key throws instseg::Error
// carrying the summary, before anything is copied.
LoadReport load_state_dict_into(torch::nn::Module& module, const TensorDict& state_dict, bool strict);

// Keys of the floating-point tensors holding NaN or inf, in dict order.
std::vector<std::string> nonfinite_tensors(const TensorDict& state_dict);

// Throws "<path>: 3 of 120 tensors contain non-finite values (NaN/inf): a.weight, ..."
// when any floating-point tensor of `weights` holds NaN/inf (a diverged run's checkpoint).
void check_finite_weights(const TensorDict& weights, const std::string& path);

}  // namespace instseg
