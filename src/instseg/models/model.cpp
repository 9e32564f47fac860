#include "instseg/models/model.h"

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

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

}  // namespace instseg
