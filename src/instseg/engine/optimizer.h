// Optimisers built the way mmengine's DefaultOptimWrapperConstructor builds
// them: SGD or AdamW with per-parameter lr / weight-decay multipliers.
//
//   OptimizerOptions o;  o.type = "AdamW"; o.lr = 1e-4; o.weight_decay = 1e-4;
//   o.custom_keys = {{"backbone", 0.1, 1.0}};          // QueryInst
//   BuiltOptimizer opt = build_optimizer(*model, o);
//
// Parameter rules (mmengine's paramwise_cfg):
//  - custom_keys: a key matches when it is a substring of the parameter's full
//    name; keys are tried longest first (ties alphabetically), the first match
//    sets lr_mult and (when given) decay_mult.
//  - otherwise bias_lr_mult / bias_decay_mult apply to the `bias` of non-norm
//    modules and norm_decay_mult to every parameter of a norm module
//    (BatchNorm / GroupNorm / LayerNorm / InstanceNorm: module type names
//    containing "Norm").
// Parameters with requires_grad=false are left out. mmengine makes one param
// group per parameter; we merge parameters with equal multipliers into one
// group (same arithmetic, fewer groups), in order of first appearance.
#pragma once
#include "instseg/core/compat.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

namespace instseg {

struct ParamRule {
  std::string key;  // substring of the parameter name, e.g. "backbone"
  double lr_mult = 1.0;
  optional<double> decay_mult;  // unset: keep the weight decay
};

struct OptimizerOptions {
  std::string type = "SGD";  // "SGD" or "AdamW"
  double lr = 0.01;
  double weight_decay = 0.0;
  // SGD
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  // AdamW
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;
  // paramwise_cfg
  std::vector<ParamRule> custom_keys;
  optional<double> bias_lr_mult, bias_decay_mult, norm_decay_mult;
};

struct ParamGroupInfo {
  double lr_mult = 1.0, decay_mult = 1.0;
  double base_lr = 0.0;        // options.lr * lr_mult: the schedulers' initial_lr
  double weight_decay = 0.0;   // options.weight_decay * decay_mult
  std::vector<std::string> names;  // parameter names, in group order
};

struct BuiltOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::string type;
  std::vector<ParamGroupInfo> groups;  // parallel to optimizer->param_groups()
  std::vector<double> base_lrs() const;
  // Every parameter in optimizer order (group by group): the index PyTorch's
  // optimizer state_dict uses.
  std::vector<std::string> param_names() const;
};

BuiltOptimizer build_optimizer(torch::nn::Module& model, const OptimizerOptions& options);

}  // namespace instseg
