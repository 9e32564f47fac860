#include "instseg/config/build_backbone.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

#include <fstream>
#include <sstream>

#include "common/test_util.h"
#include "instseg/config/layer_cfg.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

using test::error_of;

using test::J;

ConfigNode fixture(const char* name) { return load_config(test::data_path(std::string("config/") + name)); }

void expect_fixture_resnet(const ResNetOptions& o) {
  EXPECT_EQ(o.depth, 18);
  EXPECT_EQ(o.base_channels, 16);
  EXPECT_EQ(o.stem_channels, -1);
  EXPECT_EQ(o.in_channels, 3);
  EXPECT_EQ(o.num_stages, 4);
  EXPECT_EQ(o.out_indices, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(o.strides, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(o.dilations, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(o.frozen_stages, 1);
  EXPECT_EQ(o.style, "pytorch");
  EXPECT_EQ(o.norm_type, "BN");
  EXPECT_TRUE(o.norm_requires_grad);
  EXPECT_TRUE(o.norm_eval);
  EXPECT_TRUE(o.zero_init_residual);
  EXPECT_FALSE(o.deep_stem);
  EXPECT_FALSE(o.avg_down);
}

TEST(ConfigBuildBackbone, Solov2FixtureConfig) {
  ConfigNode c = fixture("solov2_config.json");
  expect_fixture_resnet(resnet_options_from(c["model"]["backbone"], "model.backbone"));
  FPNOptions f = fpn_options_from(c["model"]["neck"], "model.neck");
  EXPECT_EQ(f.in_channels, (std::vector<int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(f.out_channels, 64);
  EXPECT_EQ(f.num_outs, 5);
  EXPECT_EQ(f.start_level, 0);
  EXPECT_EQ(f.end_level, -1);
  EXPECT_EQ(f.add_extra_convs, "none");
  EXPECT_EQ(f.upsample_mode, "nearest");
  EXPECT_EQ(f.norm_type, "none");
  EXPECT_EQ(f.act, "none");
}

TEST(ConfigBuildBackbone, QueryInstFixtureConfig) {
  ConfigNode c = fixture("queryinst_config.json");
  expect_fixture_resnet(resnet_options_from(c["model"]["backbone"], "model.backbone"));
  FPNOptions f = fpn_options_from(c["model"]["neck"], "model.neck");
  EXPECT_EQ(f.in_channels, (std::vector<int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(f.out_channels, 64);
  EXPECT_EQ(f.num_outs, 4);
  EXPECT_EQ(f.add_extra_convs, "on_input");
}

TEST(ConfigBuildBackbone, MmengineYamlDumpAndReaderComposition) {
  ConfigNode c = load_config(test::data_path("config/mmengine_dump.yaml"));
  ConfigReader model(c["model"], "model");
  model.expect_type({"SOLOv2"});
  auto bb_reader = model.child("backbone");
  ResNetOptions bb = resnet_options_from(bb_reader);
  auto neck_reader = model.child("neck");
  FPNOptions neck = fpn_options_from(neck_reader);
  EXPECT_NO_THROW(model.finish());
  EXPECT_EQ(bb.depth, 50);
  EXPECT_EQ(bb.base_channels, 64);
  EXPECT_EQ(bb.out_indices, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(neck.out_channels, 256);
}

// init_cfg Pretrained on the backbone: the names go into BackboneSpec::pretrained
// (the file is looked up when training starts, backbone/pretrained.h).
TEST(ConfigBuildBackbone, PretrainedInitCfgGoesToTheSpec) {
  ConfigNode c = load_config(test::data_path("config/mmengine_dump.yaml"));
  BackboneSpec spec = backbone_spec_from(c["model"]["backbone"], "model.backbone");
  EXPECT_EQ(spec.pretrained.checkpoint, "torchvision://resnet50");
  EXPECT_EQ(spec.pretrained.prefix, "");
  EXPECT_TRUE(spec.pretrained.enabled());

  // prefix (a detector checkpoint's backbone), map_location ignored, in a list with other inits.
  spec = backbone_spec_from(J(R"({"type": "ResNet", "depth": 18, "init_cfg": [{"type": "Kaiming", "layer": "Conv2d"},
    {"type": "Pretrained", "checkpoint": "work_dirs/x/epoch_12.pth", "prefix": "backbone.", "map_location": "cpu"}]})"),
                            "model.backbone");
  EXPECT_EQ(spec.pretrained.checkpoint, "work_dirs/x/epoch_12.pth");
  EXPECT_EQ(spec.pretrained.prefix, "backbone.");
  // mmdet's deprecated `pretrained` argument means the same.
  spec = backbone_spec_from(J(R"({"type": "ResNeXt", "depth": 101, "groups": 64, "pretrained": "open-mmlab://resnext101_64x4d"})"),
                            "model.backbone");
  EXPECT_EQ(spec.pretrained.checkpoint, "open-mmlab://resnext101_64x4d");
  // No Pretrained dict, None, or the fixture's init_cfg null: nothing to load.
  for (const char* j : {R"({"type": "ResNet", "depth": 18, "init_cfg": {"type": "Kaiming", "layer": "Conv2d"}})",
                        R"({"type": "ResNet", "depth": 18, "init_cfg": null, "pretrained": null})"})
    EXPECT_FALSE(backbone_spec_from(J(j), "model.backbone").pretrained.enabled()) << j;
  EXPECT_FALSE(backbone_spec_from(fixture("solov2_config.json")["model"]["backbone"], "model.backbone")
                   .pretrained.enabled());

  auto err = [](const char* json) { return error_of([&] { backbone_spec_from(J(json), "model.backbone"); }); };
  EXPECT_EQ(err(R"({"type": "ResNet", "depth": 50, "init_cfg": {"type": "Pretrained"}})"),
            "config: model.backbone.init_cfg: missing required key 'checkpoint'");
  EXPECT_EQ(err(R"({"type": "ResNet", "depth": 50, "init_cfg": {"type": "Pretrained", "checkpoint": "a.pth",
    "prefixx": "backbone."}})"),
            "config: unknown key 'model.backbone.init_cfg.prefixx' (did you mean 'prefix'?)");
  EXPECT_EQ(err(R"({"type": "ResNet", "depth": 50, "pretrained": "a.pth",
    "init_cfg": {"type": "Pretrained", "checkpoint": "b.pth"}})"),
            "config: model.backbone.pretrained: init_cfg and pretrained cannot be specified at the same time (mmdet)");
  EXPECT_EQ(err(R"({"type": "ResNet", "depth": 50, "init_cfg": [{"type": "Pretrained", "checkpoint": "a.pth"},
    {"type": "Pretrained", "checkpoint": "b.pth"}]})"),
            "config: model.backbone.init_cfg.1: a second Pretrained init_cfg (instseg loads one checkpoint)");
}

TEST(ConfigBuildBackbone, AllMmdetResNetKeysMap) {
  ConfigNode n = J(R"({"type": "ResNet", "depth": 101, "in_channels": 4, "stem_channels": 32, "base_channels": 32,
    "num_stages": 3, "strides": [1, 2, 1], "dilations": [1, 1, 2], "out_indices": [1, 2], "style": "caffe",
    "deep_stem": false, "avg_down": false, "frozen_stages": -1, "conv_cfg": null,
    "norm_cfg": {"type": "SyncBN", "requires_grad": false}, "norm_eval": false, "dcn": null,
    "stage_with_dcn": [false, false, false], "plugins": null, "with_cp": true, "zero_init_residual": false,
    "pretrained": null, "init_cfg": [{"type": "Kaiming", "layer": "Conv2d"}]})");
  ResNetOptions o = resnet_options_from(n, "b");
  EXPECT_EQ(o.depth, 101);
  EXPECT_EQ(o.in_channels, 4);
  EXPECT_EQ(o.stem_channels, 32);
  EXPECT_EQ(o.base_channels, 32);
  EXPECT_EQ(o.num_stages, 3);
  EXPECT_EQ(o.strides, (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(o.dilations, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(o.out_indices, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(o.style, "caffe");
  EXPECT_EQ(o.frozen_stages, -1);
  EXPECT_EQ(o.norm_type, "SyncBN");
  EXPECT_FALSE(o.norm_requires_grad);
  EXPECT_FALSE(o.norm_eval);
  EXPECT_FALSE(o.zero_init_residual);
}

TEST(ConfigBuildBackbone, ResNeXtAndDcnKeysMap) {
  // configs/solov2/solov2_x101-dcn_fpn_ms-3x_coco.py's backbone.
  ResNetOptions x = resnet_options_from(J(R"({"type": "ResNeXt", "depth": 101, "groups": 64, "base_width": 4,
    "dcn": {"type": "DCNv2", "deformable_groups": 1, "fallback_on_stride": false},
    "stage_with_dcn": [false, true, true, true],
    "init_cfg": {"type": "Pretrained", "checkpoint": "open-mmlab://resnext101_64x4d"}})"), "b");
  EXPECT_EQ(x.depth, 101);
  EXPECT_EQ(x.groups, 64);
  EXPECT_EQ(x.base_width, 4);
  EXPECT_EQ(x.dcn_type, "DCNv2");
  EXPECT_EQ(x.dcn_deform_groups, 1);
  EXPECT_EQ(x.stage_with_dcn, (std::vector<bool>{false, true, true, true}));
  // ResNeXt defaults (groups 1, base_width 4) and DCNv1 with deform_groups.
  ResNetOptions d = resnet_options_from(J(R"({"type": "ResNeXt", "depth": 50,
    "dcn": {"type": "DCN", "deform_groups": 2}, "stage_with_dcn": [true, false, false, true]})"), "b");
  EXPECT_EQ(d.groups, 1);
  EXPECT_EQ(d.base_width, 4);
  EXPECT_EQ(d.dcn_type, "DCN");
  EXPECT_EQ(d.dcn_deform_groups, 2);
  // dcn None (mmdet's default) ignores stage_with_dcn, as mmdet does.
  ResNetOptions n = resnet_options_from(J(R"({"type": "ResNet", "depth": 50, "dcn": null,
    "stage_with_dcn": [true, true, true, true]})"), "b");
  EXPECT_EQ(n.dcn_type, "Conv2d");
}

TEST(ConfigBuildBackbone, AllMmdetFPNKeysMap) {
  ConfigNode n = J(R"({"type": "FPN", "in_channels": [8, 16, 32], "out_channels": 16, "num_outs": 2,
    "start_level": 1, "end_level": 2, "add_extra_convs": true, "relu_before_extra_convs": true,
    "no_norm_on_lateral": true, "conv_cfg": null, "norm_cfg": {"type": "GN", "num_groups": 4},
    "act_cfg": {"type": "ReLU", "inplace": false}, "upsample_cfg": {"mode": "bilinear"},
    "init_cfg": {"type": "Xavier", "layer": "Conv2d", "distribution": "uniform"}})");
  FPNOptions o = fpn_options_from(n, "neck");
  EXPECT_EQ(o.in_channels, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_EQ(o.out_channels, 16);
  EXPECT_EQ(o.num_outs, 2);
  EXPECT_EQ(o.start_level, 1);
  EXPECT_EQ(o.end_level, 2);
  EXPECT_EQ(o.add_extra_convs, "on_input");
  EXPECT_TRUE(o.relu_before_extra_convs);
  EXPECT_TRUE(o.no_norm_on_lateral);
  EXPECT_EQ(o.norm_type, "GN");
  EXPECT_EQ(o.norm_num_groups, 4);
  EXPECT_EQ(o.act, "relu");
  EXPECT_EQ(o.upsample_mode, "bilinear");
  for (const char* v : {"false", "\"on_lateral\"", "\"on_output\""}) {
    ConfigNode m = J(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 3})");
    m["add_extra_convs"] = ConfigNode::parse(v);
    EXPECT_EQ(fpn_options_from(m, "neck").add_extra_convs, std::string(v) == "false" ? "none" : ConfigNode::parse(v).get<std::string>());
  }
}

TEST(ConfigBuildBackbone, Errors) {
  auto resnet_err = [](const char* json) {
    return error_of([&] { resnet_options_from(ConfigNode::parse(json), "model.backbone"); });
  };
  auto fpn_err = [](const char* json) {
    return error_of([&] { fpn_options_from(ConfigNode::parse(json), "model.neck"); });
  };
  EXPECT_EQ(resnet_err(R"({"type": "ResNeSt", "depth": 50})"),
            "config: model.backbone.type: unsupported type 'ResNeSt' (supported: ResNet, ResNeXt)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNeXt", "depth": 34, "groups": 32})"),
            "config: model.backbone.depth: invalid depth 34 for ResNeXt (supported: 50, 101, 152)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "groups": 32})"),
            "config: unknown key 'model.backbone.groups' (known keys: type, depth, in_channels, base_channels, "
            "stem_channels, num_stages, strides, dilations, out_indices, style, deep_stem, avg_down, frozen_stages, "
            "norm_cfg, norm_eval, zero_init_residual, conv_cfg, plugins, dcn, stage_with_dcn, with_cp, pretrained, "
            "init_cfg)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "dcn": {"type": "DCNv2", "fallback_on_stride": true},
                            "stage_with_dcn": [false, true, true, true]})"),
            "config: model.backbone.dcn: fallback_on_stride=True is not supported (mmdet applies it to the "
            "first block only)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "dcn": {"type": "DCNv2"}, "stage_with_dcn": [true]})"),
            "config: model.backbone.stage_with_dcn: needs num_stages (4) entries, got 1");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 18, "dcn": {"type": "DCNv2"},
                            "stage_with_dcn": [false, true, true, true]})"),
            "config: model.backbone.dcn: BasicBlock (depth 18) has no DCN (mmdet: not implemented)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "dcn": {"type": "DCNv3"}})"),
            "config: model.backbone.dcn.type: unsupported type 'DCNv3' (supported: Conv2d, Conv, DCNv2, DCN)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "frozen_stage": 1})"),
            "config: unknown key 'model.backbone.frozen_stage' (did you mean 'frozen_stages'?)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 42})"),
            "config: model.backbone.depth: invalid depth 42 (supported: 18, 34, 50, 101, 152)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet"})"), "config: model.backbone: missing required key 'depth'");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "norm_cfg": {"type": "GN", "num_groups": 32}})"),
            "config: model.backbone.norm_cfg: ResNet supports BN and SyncBN (trained as BN), got 'GN'");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "norm_cfg": {"type": "LN"}})"),
            "config: model.backbone.norm_cfg.type: unsupported type 'LN' (supported: BN, BN2d, SyncBN, GN)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "out_indices": [0, 4]})"),
            "config: model.backbone.out_indices: index 4 is not a stage (0..3)");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "strides": [1, 2]})"),
            "config: model.backbone.strides: needs num_stages (4) entries, got 2");
  EXPECT_EQ(resnet_err(R"({"type": "ResNet", "depth": 50, "style": "tf"})"),
            "config: model.backbone.style: must be 'pytorch' or 'caffe', got 'tf'");
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 3,
                       "add_extra_convs": "on_top"})"),
            "config: model.neck.add_extra_convs: must be false, true, 'on_input', 'on_lateral' or 'on_output', "
            "got 'on_top'");
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 1})"),
            "config: model.neck.num_outs: must be >= 2 (inputs from start_level), got 1");
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 3,
                       "upsample_cfg": {"scale_factor": 2}})"),
            "config: model.neck.upsample_cfg.scale_factor: is not supported (FPN upsamples to the lateral's size)");
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 3,
                       "act_cfg": {"type": "GELU"}})"),
            "config: model.neck.act_cfg.type: unsupported type 'GELU' (supported: ReLU)");
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channels": 16, "num_outs": 3,
                       "norm_cfg": {"type": "GN"}})"),
            "config: model.neck.norm_cfg: missing required key 'num_groups'");
  // The misspelt key is named next to the missing one (issue 12).
  EXPECT_EQ(fpn_err(R"({"type": "FPN", "in_channels": [8, 16], "out_channel": 16, "num_outs": 3})"),
            "config: unknown key 'model.neck.out_channel' (did you mean 'out_channels'?)\n"
            "config: model.neck: missing required key 'out_channels'");
}

TEST(LayerCfg, NormAndActDefaults) {
  ConfigNode n = J(R"({"norm_cfg": null, "act_cfg": null})");
  ConfigReader r(n, "x");
  EXPECT_EQ(norm_cfg_from(r, "norm_cfg", NormCfg{"BN", 32, true}).type, "none");
  EXPECT_EQ(norm_cfg_from(r, "absent", NormCfg{"GN", 8, false}).num_groups, 8);
  EXPECT_EQ(act_cfg_from(r, "act_cfg", "relu"), "none");
  EXPECT_EQ(act_cfg_from(r, "absent_act", "relu"), "relu");
  EXPECT_NO_THROW(r.finish());
}

}  // namespace
}  // namespace instseg
