#include "instseg/models/model.h"

#include "instseg/backbone/pretrained.h"

namespace instseg {

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::solov2: return "SOLOv2";
    case ModelKind::queryinst: return "QueryInst";
  }
  return "?";
}

std::shared_ptr<DetectorImpl> build_model(const ModelSpec& spec) {
  switch (spec.kind) {
    case ModelKind::solov2: return std::make_shared<SOLOv2Impl>(spec.solov2);
    case ModelKind::queryinst: return std::make_shared<QueryInstImpl>(spec.queryinst);
  }
  TORCH_CHECK(false, "build_model: unknown model kind");
}

const BackboneSpec& backbone_spec(const ModelSpec& spec) {
  switch (spec.kind) {
    case ModelKind::solov2: return spec.solov2.backbone;
    case ModelKind::queryinst: return spec.queryinst.backbone;
  }
  TORCH_CHECK(false, "backbone_spec: unknown model kind");
}

optional<LoadedWeights> init_pretrained_weights(DetectorImpl& model, const ModelSpec& spec) {
  const BackboneSpec& bb = backbone_spec(spec);
  if (!bb.pretrained.enabled()) return nullopt;
  // Both models register their backbone as `backbone` (mmdet's key).
  std::shared_ptr<BackboneImpl> backbone;
  for (const auto& child : model.named_children())
    if (child.key() == "backbone") backbone = std::dynamic_pointer_cast<BackboneImpl>(child.value());
  INSTSEG_CHECK(backbone, "init_pretrained_weights: the ", model_kind_name(spec.kind),
                " model has no 'backbone' module");
  return load_pretrained_backbone(*backbone, bb);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

}  // namespace instseg
