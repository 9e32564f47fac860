#include "instseg/losses/box_losses.h"

#include "instseg/core/check.h"
#include "instseg/losses/focal_loss.h"
#include "instseg/structures/boxes.h"

#include <ATen/ATen.h>

namespace instseg {

at::Tensor l1_loss(const at::Tensor& pred, const at::Tensor& target, const BoxLossOptions& opts,
                   const at::Tensor& weight, instseg::optional<double> avg_factor) {
  INSTSEG_CHECK(pred.sizes() == target.sizes(), "l1_loss: pred ", pred.sizes(), " vs target ",
                target.sizes());
  if (target.numel() == 0) return pred.sum() * 0;
  auto loss = (pred - target).abs();
  return weight_reduce_loss(loss, weight, opts.reduction, avg_factor) * opts.loss_weight;
}

at::Tensor giou_loss(const at::Tensor& pred, const at::Tensor& target, const BoxLossOptions& opts,
                     const at::Tensor& weight, instseg::optional<double> avg_factor, double eps) {
  INSTSEG_CHECK(pred.dim() == 2 && pred.size(1) == 4 && pred.sizes() == target.sizes(),
                "giou_loss: pred and target must both be [N,4], got ", pred.sizes(), " and ",
                target.sizes());
  at::Tensor w = weight;
  if (w.defined()) {
    if (!(w > 0).any().item<bool>()) {
      if (pred.dim() == w.dim() + 1) w = w.unsqueeze(1);
      return (pred * w).sum();
    }
    if (w.dim() > 1) w = w.mean(-1);
  }
  auto loss = 1 - box_giou_aligned(pred, target, eps);
  return weight_reduce_loss(loss, w, opts.reduction, avg_factor) * opts.loss_weight;
}

}  // namespace instseg
