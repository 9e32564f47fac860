// The backbone seam: build_backbone's switch, ShapeSpecs that agree with what
// forward() returns, level names, and the neck's in_channels taken from (or
// checked against) the backbone.
#include "instseg/backbone/build_backbone.h"

#include "instseg/backbone/resnet.h"
#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

namespace instseg {
namespace {

TEST(BuildBackbone, ResNetShapesMatchForward) {
  torch::manual_seed(0);
  BackboneSpec spec;
  spec.resnet.depth = 18;
  spec.resnet.base_channels = 8;
  const std::shared_ptr<BackboneImpl> b = build_backbone(spec);
  ASSERT_NE(std::dynamic_pointer_cast<ResNetImpl>(b), nullptr);
  EXPECT_EQ(backbone_kind_name(spec.kind), std::string("ResNet"));
  EXPECT_EQ(backbone_description(spec), "ResNet-18");
  const std::vector<ShapeSpec> shapes = b->output_shapes();
  ASSERT_EQ(shapes.size(), 4u);
  const std::vector<ShapeSpec> want{{8, 4}, {16, 8}, {32, 16}, {64, 32}};
  EXPECT_EQ(shapes, want);
  EXPECT_EQ(b->output_names(), (std::vector<std::string>{"c2", "c3", "c4", "c5"}));
  b->eval();
  torch::NoGradGuard ng;
  const std::vector<at::Tensor> c = b->forward(at::randn({1, 3, 64, 96}));
  ASSERT_EQ(c.size(), shapes.size());
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c[i].size(1), shapes[i].channels) << i;
    EXPECT_EQ(c[i].size(2), 64 / shapes[i].stride) << i;
    EXPECT_EQ(c[i].size(3), 96 / shapes[i].stride) << i;
  }
}

TEST(BuildBackbone, R50LevelsAndOutIndices) {
  BackboneSpec spec;  // mmdet's ResNet defaults: depth 50
  EXPECT_EQ(build_backbone(spec)->output_shapes(),
            (std::vector<ShapeSpec>{{256, 4}, {512, 8}, {1024, 16}, {2048, 32}}));
  spec.resnet.depth = 18;
  spec.resnet.out_indices = {1, 3};
  const auto b = build_backbone(spec);
  EXPECT_EQ(b->output_shapes(), (std::vector<ShapeSpec>{{128, 8}, {512, 32}}));
  EXPECT_EQ(b->output_names(), (std::vector<std::string>{"c3", "c5"}));
}

TEST(NeckOptionsFor, FillsOrChecksInChannels) {
  const std::vector<ShapeSpec> r18{{64, 4}, {128, 8}, {256, 16}, {512, 32}};
  FPNOptions fpn;
  EXPECT_EQ(neck_options_for(fpn, r18, "SOLOv2", "ResNet-18").in_channels,
            (std::vector<int64_t>{64, 128, 256, 512}));
  fpn.in_channels = {64, 128, 256, 512};
  EXPECT_EQ(neck_options_for(fpn, r18, "SOLOv2", "ResNet-18").in_channels, fpn.in_channels);
  fpn.in_channels = {256, 512, 1024, 2048};
  try {
    neck_options_for(fpn, r18, "SOLOv2", "ResNet-18");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "SOLOv2: neck.in_channels [256, 512, 1024, 2048] do not match the backbone's output channels "
              "[64, 128, 256, 512] (ResNet-18); set model.neck.in_channels=[64, 128, 256, 512]");
  }
}

}  // namespace
}  // namespace instseg
