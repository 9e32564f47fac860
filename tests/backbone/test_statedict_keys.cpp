// State-dict keys, shapes and dtypes of ResNet-50 + FPN(256) equal mmdetection's for the
// standard SOLOv2 and QueryInst configs (tests/data/backbone/statedict_keys_backbone_neck.txt,
// extracted from ../shared/fixtures/*/statedict_keys_*.json by extract_statedict_keys.py).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "instseg/backbone/fpn.h"
#include "instseg/backbone/resnet.h"

namespace instseg {
namespace {

struct KeyEntry {
  std::string key, dtype;
  std::vector<int64_t> shape;
};

std::vector<KeyEntry> read_upstream(const std::string& model) {
  std::ifstream f(test::data_path("backbone/statedict_keys_backbone_neck.txt"));
  EXPECT_TRUE(f.good());
  std::vector<KeyEntry> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string m, shape;
    KeyEntry e;
    ls >> m >> e.key >> e.dtype >> shape;
    if (m != model) continue;
    if (shape != "-") {
      std::istringstream ss(shape);
      std::string d;
      while (std::getline(ss, d, ',')) e.shape.push_back(std::stoll(d));
    }
    out.push_back(e);
  }
  return out;
}

// Python's state_dict() order: own parameters, own buffers, then children depth-first.
void walk(const torch::nn::Module& m, const std::string& prefix, std::vector<KeyEntry>& out) {
  auto add = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined()) return;
    out.push_back({prefix + name, t.scalar_type() == at::kLong ? "int64" : "float32",
                   t.sizes().vec()});
  };
  for (const auto& p : m.named_parameters(false)) add(p.key(), p.value());
  for (const auto& b : m.named_buffers(false)) add(b.key(), b.value());
  for (const auto& c : m.named_children()) walk(*c.value(), prefix + c.key() + ".", out);
}

struct Detector : torch::nn::Module {
  Detector(const ResNetOptions& r, const FPNOptions& f) {
    backbone = register_module("backbone", ResNet(r));
    neck = register_module("neck", FPN(f));
  }
  ResNet backbone{nullptr};
  FPN neck{nullptr};
};

void check_model(const std::string& model, const FPNOptions& fpn) {
  const auto expected = read_upstream(model);
  ASSERT_GT(expected.size(), 300u);
  ResNetOptions r;
  r.depth = 50;
  Detector det(r, fpn);
  std::vector<KeyEntry> got;
  walk(det, "", got);
  ASSERT_EQ(got.size(), expected.size()) << model;
  int64_t backbone_params = 0, neck_params = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, expected[i].key) << model << " #" << i;
    EXPECT_EQ(got[i].shape, expected[i].shape) << expected[i].key;
    EXPECT_EQ(got[i].dtype, expected[i].dtype) << expected[i].key;
    const std::string& k = expected[i].key;
    const bool is_buffer = k.find("running_") != std::string::npos ||
                           k.find("num_batches_tracked") != std::string::npos;
    if (is_buffer) continue;
    int64_t n = 1;
    for (int64_t s : expected[i].shape) n *= s;
    (k.rfind("backbone.", 0) == 0 ? backbone_params : neck_params) += n;
  }
  // Hand values: torchvision resnet50 25,557,032 minus fc 2,049,000; FPN
  // 256*(256+512+1024+2048) + 4*256 lateral + 4*(256*256*9 + 256) output convs.
  EXPECT_EQ(backbone_params, 23508032);
  EXPECT_EQ(neck_params, 984064 + 2360320);
  int64_t n = 0;
  for (const auto& p : det.neck->parameters()) n += p.numel();
  EXPECT_EQ(n, neck_params);
}

FPNOptions fpn256() {
  FPNOptions o;
  o.in_channels = {256, 512, 1024, 2048};
  o.out_channels = 256;
  return o;
}

TEST(StateDictKeys, SOLOv2ResNet50FPN) {
  FPNOptions o = fpn256();
  o.num_outs = 5;
  check_model("solov2", o);
}

TEST(StateDictKeys, QueryInstResNet50FPN) {
  FPNOptions o = fpn256();
  o.add_extra_convs = "on_input";
  o.num_outs = 4;
  check_model("queryinst", o);
}

}  // namespace
}  // namespace instseg
