// Helpers shared by the backbone tests.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/serialize.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace instseg::test {

// A torch.save'd plain dict of tensors (zip format), via torch::pickle_load.
inline std::map<std::string, at::Tensor> load_pt_dict(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const c10::IValue v = torch::pickle_load(bytes);
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : v.toGenericDict()) out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

// The deterministic fill of tests/data/backbone/make_resnet_fixture.py (fill_values /
// value_for / make_input), reproduced with the same int64 / float64 tensor operations,
// so both sides produce bit-identical float32 values.
inline at::Tensor fill_values(const std::string& name, int64_t numel) {
  uint32_t h = 2166136261u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 16777619u;
  }
  const int64_t M = int64_t(1) << 31;
  const int64_t hh = static_cast<int64_t>(h) % M;
  at::Tensor i = at::arange(numel, at::kLong);
  at::Tensor t = at::remainder(i * int64_t(1103515245) + hh, M);
  t = at::remainder(t * t + int64_t(12345), M);
  return t.to(at::kDouble) / static_cast<double>(M) - 0.5;
}

inline at::Tensor value_for(const std::string& name, at::IntArrayRef shape) {
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  const at::Tensor u = fill_values(name, numel);
  const std::string leaf = name.substr(name.rfind('.') + 1);
  at::Tensor v;
  if (shape.size() == 4) {
    const double fan_in = static_cast<double>(shape[1] * shape[2] * shape[3]);
    v = u * 2.0 * std::pow(6.0 / fan_in, 0.5);
  } else if (leaf == "weight") {
    v = 0.5 * u + 0.75;
  } else if (leaf == "bias" || leaf == "running_mean") {
    v = 0.2 * u;
  } else if (leaf == "running_var") {
    v = u + 1.0;
  } else {
    throw std::runtime_error("value_for: unexpected tensor " + name);
  }
  return v.to(at::kFloat).reshape(shape);
}

// Fills every parameter and float buffer of `m` (num_batches_tracked kept).
inline void fill_module(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.named_parameters()) p.value().copy_(value_for(p.key(), p.value().sizes()));
  for (auto& b : m.named_buffers())
    if (b.value().is_floating_point()) b.value().copy_(value_for(b.key(), b.value().sizes()));
}

inline at::Tensor make_input(at::IntArrayRef shape) {
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  return (4.0 * fill_values("input", numel)).to(at::kFloat).reshape(shape);
}

}  // namespace instseg::test
