// The interface every model implements, and what the engine and CLI use.
#pragma once
#include "instseg/structures/instances.h"
#include "instseg/structures/tensor_dict.h"

#include <torch/nn/module.h>

#include <vector>

namespace instseg {

class DetectorImpl : public torch::nn::Module {
 public:
  ~DetectorImpl() override = default;

  // Training forward: named losses (mmdetection's names). Uses batch.gts.
  virtual LossMap forward_train(const Batch& batch) = 0;

  // Inference: one Instances per image, in the original image frame.
  virtual std::vector<Instances> predict(const Batch& batch) = 0;

  // Backbone + neck only: the neck's outputs (P2, ...), recording
  // backbone.c* / neck.p* when capturing. Models override it.
  virtual std::vector<at::Tensor> extract_feat(const at::Tensor& images) {
    TORCH_CHECK(false, "extract_feat is not implemented for this model");
  }

  // When set, forward_train/predict record named intermediate tensors here
  // ("backbone.c2", "neck.p2", "solov2.cls_scores.0", ...) for
  // `instseg forward`. Not owned; nullptr (the default) records nothing.
  void set_capture(TensorDict* sink) { capture_ = sink; }

 protected:
  void capture(const std::string& name, const at::Tensor& t) {
    if (capture_) capture_->set(name, t.detach());
  }
  TensorDict* capture_ = nullptr;
};

}  // namespace instseg
