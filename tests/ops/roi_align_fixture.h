// The torchvision float64 RoIAlign cases (tests/data/ops/roi_align_cases.pt,
// made by make_roi_align_fixture.py), shared by test_roi_align.cpp and the
// CUDA parity test test_roi_align_cuda.cpp.
#pragma once
#include "common/test_util.h"
#include "instseg/ops/roi_align.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace instseg::test {

using RoIAlignCases = c10::Dict<c10::IValue, c10::IValue>;

inline RoIAlignCases load_roi_align_cases() {
  std::ifstream f(data_path("ops/roi_align_cases.pt"), std::ios::binary);
  EXPECT_TRUE(f.good());
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes).toGenericDict();
}

inline at::Tensor case_tensor(const RoIAlignCases& d, const std::string& k) { return d.at(k).toTensor(); }

inline RoIAlignOptions case_options(const RoIAlignCases& d, const std::string& p) {
  auto params = case_tensor(d, p + "params");
  RoIAlignOptions o;
  o.output_h = params[0].item<int64_t>();
  o.output_w = params[1].item<int64_t>();
  o.sampling_ratio = params[2].item<int64_t>();
  o.aligned = params[3].item<int64_t>() != 0;
  o.spatial_scale = case_tensor(d, p + "spatial_scale")[0].item<double>();
  return o;
}

}  // namespace instseg::test
