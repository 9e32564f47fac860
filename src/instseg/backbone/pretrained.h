// mmengine's PretrainedInit on a backbone: init_cfg=dict(type='Pretrained',
// checkpoint='torchvision://resnet50', prefix=None) loads a checkpoint into
// the freshly built backbone, not strictly (what does not fit is reported).
//
//   BackboneSpec spec = backbone_spec_from(cfg["model"]["backbone"], "model.backbone");
//   auto backbone = build_backbone(spec);
//   LoadedWeights w = load_pretrained_backbone(*backbone, spec);  // spec.pretrained.enabled()
//   // w.report.unexpected: fc.weight, fc.bias for torchvision's ResNets
//
// The checkpoint is a local path or a name of checkpoint/model_zoo.h
// (torchvision://, open-mmlab://, http(s)://), read from PyTorch's hub cache;
// nothing is downloaded. Training calls it (models/model.h's
// init_pretrained_weights) before load_from, as mmengine's runner runs
// init_weights before loading load_from.
#pragma once
#include "instseg/backbone/backbone.h"
#include "instseg/backbone/build_backbone.h"
#include "instseg/checkpoint/load_weights.h"

namespace instseg {

// Loads spec.pretrained into `backbone` (a module built from `spec`) and logs
// what was loaded: the number of tensors, the checkpoint's keys the backbone
// has no use for (torchvision's fc.*; info) and the backbone's tensors the
// checkpoint lacks or has in another shape (a warning: they keep their random
// initialisation). Throws instseg::Error when spec.pretrained is not enabled,
// for an unknown zoo name, a missing file (naming the expected path and the
// URL), an unreadable checkpoint, a prefix no key has, or a checkpoint of
// which no tensor fits the backbone (another architecture).
LoadedWeights load_pretrained_backbone(BackboneImpl& backbone, const BackboneSpec& spec);

}  // namespace instseg
