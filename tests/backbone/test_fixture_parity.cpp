// Parity of ResNet + FPN with the upstream mmdetection fixtures
// (../shared/fixtures/{solov2,queryinst}: shrunk ResNet-18 with base_channels 16,
// FPN 64 channels). Weights from checkpoint.pth (legacy pickle, read by
// instseg/checkpoint), input = forward_in.pt `img` [1,3,288,384], references =
// intermediates.pt backbone.0..3 and neck.0..{4|3}. Tolerance norm-rel 1e-5
// (the float64 floor in tolerance_report.json is <= 1.4e-6).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "backbone/backbone_test_util.h"
#include "common/test_util.h"
#include "instseg/backbone/fpn.h"
#include "instseg/backbone/resnet.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"

namespace instseg {
namespace {

struct BackboneNeck : torch::nn::Module {
  BackboneNeck(const ResNetOptions& r, const FPNOptions& f) {
    backbone = register_module("backbone", ResNet(r));
    neck = register_module("neck", FPN(f));
  }
  ResNet backbone{nullptr};
  FPN neck{nullptr};
};

void check_fixture(const std::string& model, const FPNOptions& fpn_options, int num_outs) {
  const std::string dir = test::shared_path("fixtures/" + model + "/");
  // config.json model.backbone: ResNet depth 18, base_channels 16, frozen_stages 1,
  // norm_eval true, style pytorch, out_indices (0,1,2,3).
  ResNetOptions r;
  r.depth = 18;
  r.base_channels = 16;
  r.frozen_stages = 1;
  BackboneNeck net(r, fpn_options);

  const TensorDict all = load_state_dict(dir + "checkpoint.pth");
  TensorDict mine;
  for (const auto& [k, v] : all)
    if (k.rfind("backbone.", 0) == 0 || k.rfind("neck.", 0) == 0) mine.set(k, v);
  const LoadReport rep = load_state_dict_into(net, mine, /*strict=*/true);
  ASSERT_TRUE(rep.ok()) << rep.summary();
  EXPECT_EQ(rep.loaded, mine.size());

  const auto in = test::load_pt_dict(dir + "forward_in.pt");
  const auto ref = test::load_pt_dict(dir + "intermediates.pt");
  net.eval();
  torch::NoGradGuard g;
  const auto feats = net.backbone->forward(in.at("img"));
  ASSERT_EQ(feats.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const at::Tensor& e = ref.at("backbone." + std::to_string(i));
    ASSERT_EQ(feats[i].sizes(), e.sizes());
    const double nr = test::norm_rel(feats[i], e);
    EXPECT_LE(nr, 1e-5) << model << " backbone." << i;
    std::cout << "  " << model << " backbone." << i << " norm-rel " << nr << "\n";
  }
  const auto outs = net.neck->forward(feats);
  ASSERT_EQ(static_cast<int>(outs.size()), num_outs);
  for (int i = 0; i < num_outs; ++i) {
    const at::Tensor& e = ref.at("neck." + std::to_string(i));
    ASSERT_EQ(outs[i].sizes(), e.sizes());
    const double nr = test::norm_rel(outs[i], e);
    EXPECT_LE(nr, 1e-5) << model << " neck." << i;
    std::cout << "  " << model << " neck." << i << " norm-rel " << nr << "\n";
  }
}

FPNOptions fixture_fpn() {
  FPNOptions o;
  o.in_channels = {16, 32, 64, 128};
  o.out_channels = 64;
  o.start_level = 0;
  return o;
}

TEST(FixtureParity, SOLOv2BackboneNeck) {
  INSTSEG_REQUIRE_SHARED();
  FPNOptions o = fixture_fpn();
  o.num_outs = 5;
  check_fixture("solov2", o, 5);
}

TEST(FixtureParity, QueryInstBackboneNeck) {
  INSTSEG_REQUIRE_SHARED();
  FPNOptions o = fixture_fpn();
  o.add_extra_convs = "on_input";
  o.num_outs = 4;
  check_fixture("queryinst", o, 4);
}

}  // namespace
}  // namespace instseg
