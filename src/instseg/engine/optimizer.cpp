#include "instseg/engine/optimizer.h"

#include "instseg/core/check.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <unordered_set>

namespace instseg {

std::vector<double> BuiltOptimizer::base_lrs() const {
  std::vector<double> v;
  for (const auto& g : groups) v.push_back(g.base_lr);
  return v;
}

std::vector<std::string> BuiltOptimizer::param_names() const {
  std::vector<std::string> v;
  for (const auto& g : groups) v.insert(v.end(), g.names.begin(), g.names.end());
  return v;
}

namespace {

bool is_norm_module(const torch::nn::Module& m) {
  return m.name().find("Norm") != std::string::npos;
}

struct Pending {
  double lr_mult, decay_mult;
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
};

}  // namespace

BuiltOptimizer build_optimizer(torch::nn::Module& model, const OptimizerOptions& o) {
  INSTSEG_CHECK(o.type == "SGD" || o.type == "AdamW", "optimizer: unknown type '", o.type,
                "' (SGD or AdamW)");
  INSTSEG_CHECK(o.lr > 0, "optimizer: lr must be positive");
  // mmengine: sorted(sorted(keys), key=len, reverse=True) -> longest first,
  // alphabetical among equal lengths (stable sort).
  std::vector<ParamRule> rules = o.custom_keys;
  std::stable_sort(rules.begin(), rules.end(),
                   [](const ParamRule& a, const ParamRule& b) { return a.key < b.key; });
  std::stable_sort(rules.begin(), rules.end(), [](const ParamRule& a, const ParamRule& b) {
    return a.key.size() > b.key.size();
  });

  std::vector<Pending> pending;
  std::unordered_set<const void*> seen;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    const std::string& prefix = item.key();
    const auto& mod = item.value();
    const bool norm = is_norm_module(*mod);
    for (const auto& p : mod->named_parameters(/*recurse=*/false)) {
      const at::Tensor& t = p.value();
      if (!t.requires_grad()) continue;
      if (!seen.insert(t.unsafeGetTensorImpl()).second) continue;  // shared parameter
      const std::string name = prefix.empty() ? p.key() : prefix + "." + p.key();
      double lr_mult = 1.0, decay_mult = 1.0;
      bool custom = false;
      for (const auto& r : rules) {
        if (name.find(r.key) != std::string::npos) {
          lr_mult = r.lr_mult;
          if (r.decay_mult) decay_mult = *r.decay_mult;
          custom = true;
          break;
        }
      }
      if (!custom) {
        if (p.key() == "bias" && !norm) {
          if (o.bias_lr_mult) lr_mult = *o.bias_lr_mult;
          if (o.bias_decay_mult) decay_mult = *o.bias_decay_mult;
        }
        if (norm && o.norm_decay_mult) decay_mult = *o.norm_decay_mult;
      }
      auto it = std::find_if(pending.begin(), pending.end(), [&](const Pending& g) {
        return g.lr_mult == lr_mult && g.decay_mult == decay_mult;
      });
      if (it == pending.end()) {
        pending.push_back({lr_mult, decay_mult, {}, {}});
        it = pending.end() - 1;
      }
      it->params.push_back(t);
      it->names.push_back(name);
    }
  }
  INSTSEG_CHECK(!pending.empty(), "optimizer: the model has no trainable parameters");

  BuiltOptimizer out;
  out.type = o.type;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& g : pending) {
    ParamGroupInfo info;
    info.lr_mult = g.lr_mult;
    info.decay_mult = g.decay_mult;
    info.base_lr = o.lr * g.lr_mult;
    info.weight_decay = o.weight_decay * g.decay_mult;
    info.names = g.names;
    if (o.type == "SGD") {
      auto opts = std::make_unique<torch::optim::SGDOptions>(info.base_lr);
      opts->momentum(o.momentum).dampening(o.dampening).weight_decay(info.weight_decay)
          .nesterov(o.nesterov);
      groups.emplace_back(g.params, std::move(opts));
    } else {
      auto opts = std::make_unique<torch::optim::AdamWOptions>(info.base_lr);
      opts->betas(std::make_tuple(o.beta1, o.beta2)).eps(o.eps).weight_decay(info.weight_decay)
          .amsgrad(o.amsgrad);
      groups.emplace_back(g.params, std::move(opts));
    }
    out.groups.push_back(std::move(info));
  }
  if (o.type == "SGD") {
    torch::optim::SGDOptions defaults(o.lr);
    defaults.momentum(o.momentum).dampening(o.dampening).weight_decay(o.weight_decay)
        .nesterov(o.nesterov);
    out.optimizer = std::make_unique<torch::optim::SGD>(std::move(groups), defaults);
  } else {
    torch::optim::AdamWOptions defaults(o.lr);
    defaults.betas(std::make_tuple(o.beta1, o.beta2)).eps(o.eps).weight_decay(o.weight_decay)
        .amsgrad(o.amsgrad);
    out.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
  }
  return out;
}

}  // namespace instseg
