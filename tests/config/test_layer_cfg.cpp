// conv_cfg parsing (mmcv build_conv_layer's types and kwargs); norm_cfg and
// act_cfg are covered in test_build_backbone.cpp.
#include "instseg/config/layer_cfg.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

namespace instseg {
namespace {

using test::error_of;

using test::J;

TEST(LayerCfg, ConvCfgTypesAndDefaults) {
  ConfigNode n = J(R"({"none": null, "conv": {"type": "Conv"}, "plain": {"type": "Conv2d"},
                       "v2": {"type": "DCNv2"}, "v2dg": {"type": "DCNv2", "deform_groups": 4},
                       "v1": {"type": "DCN", "deform_groups": 2, "im2col_step": 64}})");
  ConfigReader r(n, "model.head");
  EXPECT_EQ(conv_cfg_from(r, "absent", ConvCfg{"DCN", 3}).type, "DCN");
  EXPECT_EQ(conv_cfg_from(r, "none", ConvCfg{"DCN", 3}).type, "Conv2d");
  EXPECT_EQ(conv_cfg_from(r, "conv", ConvCfg{}).type, "Conv2d");
  EXPECT_EQ(conv_cfg_from(r, "plain", ConvCfg{}).type, "Conv2d");
  ConvCfg v2 = conv_cfg_from(r, "v2", ConvCfg{});
  EXPECT_EQ(v2.type, "DCNv2");
  EXPECT_EQ(v2.deform_groups, 1);
  EXPECT_TRUE(v2.deformable());
  EXPECT_EQ(conv_cfg_from(r, "v2dg", ConvCfg{}).deform_groups, 4);
  ConvCfg v1 = conv_cfg_from(r, "v1", ConvCfg{});
  EXPECT_EQ(v1.type, "DCN");
  EXPECT_EQ(v1.deform_groups, 2);
  EXPECT_NO_THROW(r.finish());
}

TEST(LayerCfg, ResNetDcnDictWithDeprecatedDeformableGroups) {
  // mmdetection's SOLOv2 DCN configs: dcn=dict(type='DCNv2', deformable_groups=1,
  // fallback_on_stride=False).
  ConfigNode n = J(R"({"dcn": {"type": "DCNv2", "deformable_groups": 2, "fallback_on_stride": true}})");
  ConfigReader r(n, "model.backbone");
  ConvCfg c = conv_cfg_from(r, "dcn", ConvCfg{}, /*allow_fallback_on_stride=*/true);
  EXPECT_EQ(c.type, "DCNv2");
  EXPECT_EQ(c.deform_groups, 2);
  EXPECT_TRUE(c.fallback_on_stride);
  EXPECT_NO_THROW(r.finish());
}

TEST(LayerCfg, ConvCfgErrors) {
  auto err = [](const char* json, bool fallback = false) {
    return error_of([&] {
      ConfigNode n = J(json);
      ConfigReader r(n, "model.head");
      conv_cfg_from(r, "conv_cfg", ConvCfg{}, fallback);
      r.finish();
    });
  };
  EXPECT_EQ(err(R"({"conv_cfg": {"type": "DCNv3"}})"),
            "config: model.head.conv_cfg.type: unsupported type 'DCNv3' (supported: Conv2d, Conv, "
            "DCNv2, DCN)");
  EXPECT_EQ(err(R"({"conv_cfg": {"type": "DCNv2", "deform_groups": 0}})"),
            "config: model.head.conv_cfg.deform_groups: must be >= 1, got 0");
  EXPECT_EQ(err(R"({"conv_cfg": {"type": "DCNv2", "deform_groups": 1, "deformable_groups": 1}})"),
            "config: model.head.conv_cfg.deformable_groups: give deform_groups or the deprecated "
            "deformable_groups, not both");
  // fallback_on_stride belongs to ResNet's dcn dict only; im2col_step to DCN only.
  EXPECT_NE(err(R"({"conv_cfg": {"type": "DCNv2", "fallback_on_stride": false}})")
                .find("unknown key 'model.head.conv_cfg.fallback_on_stride'"),
            std::string::npos);
  EXPECT_NE(err(R"({"conv_cfg": {"type": "DCNv2", "im2col_step": 32}})")
                .find("unknown key 'model.head.conv_cfg.im2col_step'"),
            std::string::npos);
  EXPECT_NE(err(R"({"conv_cfg": {"type": "Conv2d", "deform_groups": 2}})")
                .find("unknown key 'model.head.conv_cfg.deform_groups'"),
            std::string::npos);
  EXPECT_EQ(err(R"({"conv_cfg": {"type": "DCN", "fallback_on_stride": false}})", true), "");
}

}  // namespace
}  // namespace instseg
