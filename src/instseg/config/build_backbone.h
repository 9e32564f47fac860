// mmdetection `model.backbone` and `model.neck` (FPN) dicts -> BackboneSpec
// (src/instseg/backbone/build_backbone.h) / FPNOptions.
//
//   BackboneSpec bb = backbone_spec_from(cfg["model"]["backbone"], "model.backbone");
//   auto r50 = resnet_options_from(cfg["model"]["backbone"], "model.backbone");
//   auto fpn = fpn_options_from(cfg["model"]["neck"], "model.neck");
//
// Every constructor argument of mmdet's ResNet / FPN is accepted. Arguments
// instseg cannot honour with a non-default value (dcn, plugins, conv_cfg,
// upsample_cfg.scale_factor, norm_cfg.requires_grad=False on FPN) are errors
// when set; with_cp is accepted and ignored (memory only); init_cfg /
// pretrained: a Pretrained checkpoint goes to BackboneSpec::pretrained (loaded
// when training starts, backbone/pretrained.h), other init dicts are
// instseg's own initialisation.
#pragma once
#include <string>

#include "instseg/backbone/build_backbone.h"
#include "instseg/backbone/options.h"
#include "instseg/config/config_reader.h"

namespace instseg {

// Reads the keys into options; the caller's finish() reports unknown keys.
// backbone_spec_from switches on `type` (one case per BackboneKind).
BackboneSpec backbone_spec_from(ConfigReader& r);
// resnet_options_from fills *pretrained from init_cfg / pretrained when given.
ResNetOptions resnet_options_from(ConfigReader& r, PretrainedInit* pretrained = nullptr);
FPNOptions fpn_options_from(ConfigReader& r);

// Same on a dict node at `path`, and finish() (unknown keys are errors).
BackboneSpec backbone_spec_from(const ConfigNode& cfg, const std::string& path);
ResNetOptions resnet_options_from(const ConfigNode& cfg, const std::string& path);
FPNOptions fpn_options_from(const ConfigNode& cfg, const std::string& path);

}  // namespace instseg
