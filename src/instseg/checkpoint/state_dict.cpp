#include "instseg/checkpoint/state_dict.h"

#include "instseg/core/check.h"

#include <torch/torch.h>

#include <unordered_set>

namespace instseg {
namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, TensorDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.set(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.set(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

void list_names(std::string& out, const char* what, const std::vector<std::string>& names, size_t max_names) {
  if (names.empty()) return;
  if (!out.empty()) out += "; ";
  out += str_cat(what, " ", names.size(), names.size() == 1 ? " key: " : " keys: ");
  for (size_t i = 0; i < names.size() && i < max_names; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max_names) out += str_cat(", ... (", names.size() - max_names, " more)");
}

}  // namespace

TensorDict module_state_dict(const torch::nn::Module& module) {
  TensorDict out;
  collect(module, "", out);
  return out;
}

std::string LoadReport::summary(size_t max_names) const {
  std::string s;
  list_names(s, "missing", missing, max_names);
  list_names(s, "unexpected", unexpected, max_names);
  list_names(s, "shape-mismatched", mismatched, max_names);
  return s;
}

namespace {

// The report, and the (destination, source) pairs of the keys that match.
LoadReport match_state_dict(const torch::nn::Module& module, const TensorDict& state_dict,
                            std::vector<std::pair<at::Tensor, at::Tensor>>* copies) {
  TensorDict own = module_state_dict(module);
  LoadReport r;
  for (const auto& kv : own) {
    if (!state_dict.contains(kv.first)) {
      r.missing.push_back(kv.first);
      continue;
    }
    const at::Tensor& src = state_dict.at(kv.first);
    if (!src.defined() || src.sizes() != kv.second.sizes()) {
      r.mismatched.push_back(kv.first + ": checkpoint " + (src.defined() ? shape_str(src.sizes()) : "undefined") +
                             " vs model " + shape_str(kv.second.sizes()));
      continue;
    }
    if (copies) copies->emplace_back(kv.second, src);
  }
  for (const auto& kv : state_dict)
    if (!own.contains(kv.first)) r.unexpected.push_back(kv.first);
  return r;
}

}  // namespace

LoadReport compare_state_dict(const torch::nn::Module& module, const TensorDict& state_dict) {
  LoadReport r = match_state_dict(module, state_dict, nullptr);
  r.loaded = module_state_dict(module).size() - r.missing.size() - r.mismatched.size();
  return r;
}

LoadReport load_state_dict_into(torch::nn::Module& module, const TensorDict& state_dict, bool strict) {
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source)
  LoadReport r = match_state_dict(module, state_dict, &copies);
  if (strict && !r.ok()) fail("load_state_dict (strict): ", r.summary());
  torch::NoGradGuard no_grad;
  for (auto& c : copies) c.first.copy_(c.second);
  r.loaded = copies.size();
  return r;
}


std::vector<std::string> nonfinite_tensors(const TensorDict& state_dict) {
  std::vector<std::string> bad;
  for (const auto& kv : state_dict) {
    const at::Tensor& t = kv.second;
    if (!t.defined() || !(t.is_floating_point() || t.is_complex()) || t.numel() == 0) continue;
    if (!at::isfinite(t).all().item<bool>()) bad.push_back(kv.first);
  }
  return bad;
}

void check_finite_weights(const TensorDict& weights, const std::string& path) {
  const std::vector<std::string> bad = nonfinite_tensors(weights);
  if (bad.empty()) return;
  std::string names;
  list_names(names, "", bad, 5);
  // list_names writes " N keys: a, b"; keep the names part.
  names = names.substr(names.find(':') + 2);
  fail(path, ": ", bad.size(), " of ", weights.size(), " tensors contain non-finite values (NaN/inf): ", names,
       " (a diverged training run? this checkpoint cannot give meaningful predictions)");
}

}  // namespace instseg
