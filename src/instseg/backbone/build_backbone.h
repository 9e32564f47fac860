// Building a backbone: one explicit switch on its kind, no registry.
// mmdetection's `model.backbone` dict -> BackboneSpec is config/build_backbone.h.
//
//   BackboneSpec spec;                  // kind resnet, ResNetOptions defaults (R50)
//   spec.resnet.depth = 18;
//   std::shared_ptr<BackboneImpl> b = build_backbone(spec);
//
// Adding a backbone: its module in this folder (deriving BackboneImpl), its
// options in options.h, a BackboneKind, a case in build_backbone() and
// backbone_kind_name(), and its reader in config/build_backbone.cpp.
#pragma once
#include "instseg/backbone/backbone.h"
#include "instseg/backbone/options.h"

#include <memory>
#include <string>

namespace instseg {

enum class BackboneKind { resnet };

// mmengine's init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...) on
// the backbone. build_backbone never reads it: training applies it after
// building the model (load_pretrained_backbone, backbone/pretrained.h), as
// mmengine's runner calls init_weights in train() only; inference loads full
// weights instead.
struct PretrainedInit {
  std::string checkpoint;  // "" = none; a path or a zoo name (checkpoint/model_zoo.h)
  std::string prefix;      // "" = every key; "backbone." = a detector checkpoint's backbone
  bool enabled() const { return !checkpoint.empty(); }
};

struct BackboneSpec {
  BackboneKind kind = BackboneKind::resnet;
  ResNetOptions resnet;       // kind == resnet
  PretrainedInit pretrained;  // init_cfg type Pretrained (or the deprecated `pretrained`)
};

// mmdetection's `type` of each kind ("ResNet").
const char* backbone_kind_name(BackboneKind kind);

// "ResNet-50": the kind and its size, for messages.
std::string backbone_description(const BackboneSpec& spec);

// A freshly initialised backbone (mmdetection's init_weights).
std::shared_ptr<BackboneImpl> build_backbone(const BackboneSpec& spec);

}  // namespace instseg
