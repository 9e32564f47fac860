#include "instseg/backbone/build_backbone.h"

#include "instseg/backbone/resnet.h"
#include "instseg/core/check.h"

namespace instseg {

const char* backbone_kind_name(BackboneKind kind) {
  switch (kind) {
    case BackboneKind::resnet: return "ResNet";  // also mmdet's ResNeXt (groups > 1)
  }
  return "?";
}

std::string backbone_description(const BackboneSpec& spec) {
  switch (spec.kind) {
    case BackboneKind::resnet:
      if (spec.resnet.groups > 1)  // "ResNeXt-101 (32x4d)", mmdet's naming
        return "ResNeXt-" + std::to_string(spec.resnet.depth) + " (" + std::to_string(spec.resnet.groups) + "x" +
               std::to_string(spec.resnet.base_width) + "d)";
      return "ResNet-" + std::to_string(spec.resnet.depth);
  }
  return backbone_kind_name(spec.kind);
}

std::shared_ptr<BackboneImpl> build_backbone(const BackboneSpec& spec) {
  switch (spec.kind) {
    case BackboneKind::resnet: return std::make_shared<ResNetImpl>(spec.resnet);
  }
  fail("build_backbone: unknown backbone kind ", static_cast<int>(spec.kind));
}

}  // namespace instseg
