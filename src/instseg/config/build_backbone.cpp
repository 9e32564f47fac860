#include "instseg/config/build_backbone.h"

#include <algorithm>

#include "instseg/config/layer_cfg.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

}  // namespace

BackboneSpec backbone_spec_from(ConfigReader& r) {
  BackboneSpec spec;
  // One entry per BackboneKind (backbone/build_backbone.h). mmdet's ResNeXt
  // is its ResNet with grouped Bottlenecks (groups, base_width): the same kind.
  const std::string type = r.expect_type({"ResNet", "ResNeXt"});
  if (type == "ResNet" || type == "ResNeXt") spec.kind = BackboneKind::resnet;
  switch (spec.kind) {
    case BackboneKind::resnet: spec.resnet = resnet_options_from(r, &spec.pretrained); break;
  }
  return spec;
}

ResNetOptions resnet_options_from(ConfigReader& r, PretrainedInit* pretrained) {
  const std::string type = r.expect_type({"ResNet", "ResNeXt"});
  ResNetOptions o;
  o.depth = r.get<int>("depth");
  if (type == "ResNeXt") {
    // mmdet's ResNeXt: Bottleneck depths only; groups / base_width are its own
    // arguments (ResNet rejects them).
    if (o.depth != 50 && o.depth != 101 && o.depth != 152)
      r.fail_key("depth", "invalid depth ", o.depth, " for ResNeXt (supported: 50, 101, 152)");
    o.groups = r.get<int64_t>("groups", 1);
    if (o.groups < 1) r.fail_key("groups", "must be >= 1, got ", o.groups);
    o.base_width = r.get<int64_t>("base_width", 4);
    if (o.base_width < 1) r.fail_key("base_width", "must be >= 1, got ", o.base_width);
  } else if (o.depth != 18 && o.depth != 34 && o.depth != 50 && o.depth != 101 && o.depth != 152) {
    r.fail_key("depth", "invalid depth ", o.depth, " (supported: 18, 34, 50, 101, 152)");
  }
  o.in_channels = r.get<int64_t>("in_channels", o.in_channels);
  o.base_channels = r.get<int64_t>("base_channels", o.base_channels);
  o.stem_channels = r.get_optional<int64_t>("stem_channels").value_or(-1);
  o.num_stages = r.get<int>("num_stages", o.num_stages);
  if (o.num_stages < 1 || o.num_stages > 4) r.fail_key("num_stages", "must be in 1..4, got ", o.num_stages);
  o.strides = r.get<std::vector<int64_t>>("strides", o.strides);
  o.dilations = r.get<std::vector<int64_t>>("dilations", o.dilations);
  if (static_cast<int>(o.strides.size()) != o.num_stages)
    r.fail_key("strides", "needs num_stages (", o.num_stages, ") entries, got ", o.strides.size());
  if (static_cast<int>(o.dilations.size()) != o.num_stages)
    r.fail_key("dilations", "needs num_stages (", o.num_stages, ") entries, got ", o.dilations.size());
  o.out_indices = r.get<std::vector<int64_t>>("out_indices", o.out_indices);
  for (auto i : o.out_indices)
    if (i < 0 || i >= o.num_stages) r.fail_key("out_indices", "index ", i, " is not a stage (0..", o.num_stages - 1, ")");
  o.style = r.get<std::string>("style", o.style);
  if (o.style != "pytorch" && o.style != "caffe")
    r.fail_key("style", "must be 'pytorch' or 'caffe', got '", o.style, "'");
  o.deep_stem = r.get<bool>("deep_stem", o.deep_stem);
  o.avg_down = r.get<bool>("avg_down", o.avg_down);
  o.frozen_stages = r.get<int>("frozen_stages", o.frozen_stages);
  if (o.frozen_stages < -1 || o.frozen_stages > o.num_stages)
    r.fail_key("frozen_stages", "must be in -1..num_stages (", o.num_stages, "), got ", o.frozen_stages);
  NormCfg norm = norm_cfg_from(r, "norm_cfg", NormCfg{"BN", 32, true});
  if (norm.type != "BN" && norm.type != "SyncBN")
    r.fail_key("norm_cfg", "ResNet supports BN and SyncBN (trained as BN), got '", norm.type, "'");
  o.norm_type = norm.type;
  o.norm_requires_grad = norm.requires_grad;
  o.norm_eval = r.get<bool>("norm_eval", o.norm_eval);
  o.zero_init_residual = r.get<bool>("zero_init_residual", o.zero_init_residual);

  r.require_null("conv_cfg", "only plain Conv2d is implemented");
  r.require_null("plugins", "ResNet plugins are not implemented");
  // dcn=dict(type='DCNv2' | 'DCN', deform_groups (or deformable_groups),
  // fallback_on_stride) in conv2 of the Bottlenecks of the stages with
  // stage_with_dcn[i] (default (False, False, False, False)).
  const ConvCfg dcn = conv_cfg_from(r, "dcn", ConvCfg{}, /*allow_fallback_on_stride=*/true);
  const std::vector<bool> stages =
      r.get<std::vector<bool>>("stage_with_dcn", std::vector<bool>(4, false));
  if (dcn.deformable()) {
    if (o.depth < 50 && std::find(stages.begin(), stages.end(), true) != stages.end())
      r.fail_key("dcn", "BasicBlock (depth ", o.depth, ") has no DCN (mmdet: not implemented)");
    // mmdet's Bottleneck pops fallback_on_stride from the dcn dict that every
    // block shares, so True would give a plain conv2 to the first DCN block
    // only; no zoo config sets it, so instseg refuses it rather than copy that.
    if (dcn.fallback_on_stride)
      r.fail_key("dcn", "fallback_on_stride=True is not supported (mmdet applies it to the first "
                        "block only)");
    if (static_cast<int>(stages.size()) != o.num_stages)
      r.fail_key("stage_with_dcn", "needs num_stages (", o.num_stages, ") entries, got ",
                 stages.size());
    o.dcn_type = dcn.type;
    o.dcn_deform_groups = dcn.deform_groups;
    o.stage_with_dcn = stages;
  }
  r.get<bool>("with_cp", false);  // gradient checkpointing: memory only, same results
  const PretrainedInit init = pretrained_init_from(r);  // init_cfg, or the deprecated `pretrained`
  if (pretrained) *pretrained = init;
  return o;
}

FPNOptions fpn_options_from(ConfigReader& r) {
  r.expect_type({"FPN"});
  FPNOptions o;
  o.in_channels = r.get<std::vector<int64_t>>("in_channels");
  if (o.in_channels.empty()) r.fail_key("in_channels", "must not be empty");
  o.out_channels = r.get<int64_t>("out_channels");
  o.num_outs = r.get<int>("num_outs");
  o.start_level = r.get<int>("start_level", o.start_level);
  o.end_level = r.get<int>("end_level", o.end_level);
  const int num_ins = static_cast<int>(o.in_channels.size());
  if (o.start_level < 0 || o.start_level >= num_ins)
    r.fail_key("start_level", "must be in 0..", num_ins - 1, ", got ", o.start_level);
  if (o.end_level == -1 || o.end_level == num_ins - 1) {
    if (o.num_outs < num_ins - o.start_level)
      r.fail_key("num_outs", "must be >= ", num_ins - o.start_level, " (inputs from start_level), got ", o.num_outs);
  } else {
    if (o.end_level < o.start_level || o.end_level >= num_ins)
      r.fail_key("end_level", "must be -1 or in ", o.start_level, "..", num_ins - 1, ", got ", o.end_level);
    if (o.num_outs != o.end_level - o.start_level + 1)
      r.fail_key("num_outs", "must equal end_level - start_level + 1 = ", o.end_level - o.start_level + 1,
                 " when end_level is set, got ", o.num_outs);
  }
  // False | True (= 'on_input') | 'on_input' | 'on_lateral' | 'on_output'
  if (const ConfigNode* extra = r.find("add_extra_convs")) {
    if (extra->is_boolean()) {
      o.add_extra_convs = extra->get<bool>() ? "on_input" : "none";
    } else if (extra->is_string()) {
      o.add_extra_convs = extra->get<std::string>();
      if (o.add_extra_convs != "on_input" && o.add_extra_convs != "on_lateral" && o.add_extra_convs != "on_output")
        r.fail_key("add_extra_convs", "must be false, true, 'on_input', 'on_lateral' or 'on_output', got '",
                   o.add_extra_convs, "'");
    } else {
      config_detail::type_error(r.key_path("add_extra_convs"), "a bool or a string", *extra);
    }
  }
  o.relu_before_extra_convs = r.get<bool>("relu_before_extra_convs", o.relu_before_extra_convs);
  o.no_norm_on_lateral = r.get<bool>("no_norm_on_lateral", o.no_norm_on_lateral);
  if (auto up = r.child_optional("upsample_cfg")) {
    o.upsample_mode = up->get<std::string>("mode", o.upsample_mode);
    if (o.upsample_mode != "nearest" && o.upsample_mode != "bilinear")
      up->fail_key("mode", "must be 'nearest' or 'bilinear', got '", o.upsample_mode, "'");
    if (up->has_value("scale_factor"))
      up->fail_key("scale_factor", "is not supported (FPN upsamples to the lateral's size)");
  }
  r.require_null("conv_cfg", "only plain Conv2d is implemented");
  NormCfg norm = norm_cfg_from(r, "norm_cfg", NormCfg{});
  if (!norm.requires_grad) r.fail_key("norm_cfg", "requires_grad=False is not supported on FPN");
  o.norm_type = norm.type;
  o.norm_num_groups = norm.num_groups;
  o.act = act_cfg_from(r, "act_cfg", "none");
  read_init_cfg(r);  // Xavier by default; instseg's FPN initialises itself
  return o;
}

BackboneSpec backbone_spec_from(const ConfigNode& cfg, const std::string& path) {
  ConfigReader r(cfg, path);
  auto o = backbone_spec_from(r);
  r.finish();
  return o;
}

ResNetOptions resnet_options_from(const ConfigNode& cfg, const std::string& path) {
  ConfigReader r(cfg, path);
  auto o = resnet_options_from(r);
  r.finish();
  return o;
}

FPNOptions fpn_options_from(const ConfigNode& cfg, const std::string& path) {
  ConfigReader r(cfg, path);
  auto o = fpn_options_from(r);
  r.finish();
  return o;
}

}  // namespace instseg
