#include "instseg/inference/predict_batch.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace instseg {
namespace {

void to_cpu(at::Tensor& t) {
  if (t.defined() && !t.device().is_cpu()) t = t.to(at::kCPU);
}

}  // namespace

std::vector<Instances> predict_batch(DetectorImpl& model, const Batch& batch, const c10::Device& device) {
  INSTSEG_CHECK(!model.is_training(), "predict_batch: the model is in training mode (call eval() first)");
  INSTSEG_CHECK(batch.images.defined() && batch.images.dim() == 4 && batch.images.size(0) == batch.size(),
                "predict_batch: images must be [B,3,H,W] with B = ", batch.size(), " metas");
  std::vector<Instances> out;
  {
    torch::NoGradGuard no_grad;
    if (batch.images.device() == device) {
      out = model.predict(batch);
    } else {
      Batch b;
      b.metas = batch.metas;
      b.images = batch.images.to(device, /*non_blocking=*/true);
      out = model.predict(b);
    }
  }
  INSTSEG_CHECK(out.size() == batch.metas.size(), "predict returned ", out.size(), " results for ",
                batch.metas.size(), " images");
  for (size_t i = 0; i < out.size(); ++i) {
    Instances& r = out[i];
    to_cpu(r.labels);
    to_cpu(r.scores);
    to_cpu(r.bboxes);
    to_cpu(r.masks);
    r.image_id = batch.metas[i].image_id;
  }
  return out;
}

Instances filter_by_score(const Instances& inst, double thr) {
  if (inst.size() == 0) return inst;
  const at::Tensor keep = (inst.scores >= thr).nonzero().flatten();
  if (keep.numel() == inst.size()) return inst;
  Instances out;
  out.image_id = inst.image_id;
  auto sel = [&](const at::Tensor& t) { return t.defined() && t.numel() > 0 ? t.index_select(0, keep) : t; };
  out.labels = inst.labels.index_select(0, keep);
  out.scores = inst.scores.index_select(0, keep);
  out.bboxes = sel(inst.bboxes);
  out.masks = sel(inst.masks);
  return out;
}

}  // namespace instseg
