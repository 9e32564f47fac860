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

namespace instseg {

enum class BackboneKind { resnet };

struct BackboneSpec {
  BackboneKind kind = BackboneKind::resnet;
  ResNetOptions resnet;  // kind == resnet
};

// mmdetection's `type` of each kind ("ResNet").
const char* backbone_kind_name(BackboneKind kind);

// "ResNet-50": the kind and its size, for messages.
std::string backbone_description(const BackboneSpec& spec);

// A freshly initialised backbone (mmdetection's init_weights).
std::shared_ptr<BackboneImpl> build_backbone(const BackboneSpec& spec);

}  // namespace instseg
