#include "instseg/losses/dice_loss.h"

#include "instseg/core/check.h"
#include "instseg/losses/focal_loss.h"

#include <ATen/ATen.h>

namespace instseg {

at::Tensor dice_loss(const at::Tensor& pred_in, const at::Tensor& target_in, const DiceLossOptions& opts,
                     const at::Tensor& weight, instseg::optional<double> avg_factor,
                     const std::string& reduction_override) {
  INSTSEG_CHECK(pred_in.dim() >= 1 && target_in.dim() >= 1 && pred_in.size(0) == target_in.size(0),
                "dice_loss: pred ", pred_in.sizes(), " and target ", target_in.sizes(),
                " must have the same first dimension");
  const std::string reduction = reduction_override.empty() ? opts.reduction : reduction_override;
  at::Tensor pred = pred_in;
  if (opts.activate) {
    INSTSEG_CHECK(opts.use_sigmoid, "dice_loss: only the sigmoid activation is supported");
    pred = pred.sigmoid();
  }
  at::Tensor input = pred.flatten(1);
  at::Tensor target = target_in.flatten(1).to(input.scalar_type());
  INSTSEG_CHECK(input.sizes() == target.sizes(), "dice_loss: pred ", pred_in.sizes(), " vs target ",
                target_in.sizes());
  at::Tensor a = (input * target).sum(1);
  at::Tensor d;
  if (opts.naive_dice) {
    at::Tensor b = input.sum(1);
    at::Tensor c = target.sum(1);
    d = (2 * a + opts.eps) / (b + c + opts.eps);
  } else {
    at::Tensor b = (input * input).sum(1) + opts.eps;
    at::Tensor c = (target * target).sum(1) + opts.eps;
    d = (2 * a) / (b + c);
  }
  at::Tensor loss = 1 - d;
  at::Tensor w = weight;
  if (w.defined()) {
    INSTSEG_CHECK(w.dim() == 1 && w.size(0) == loss.size(0), "dice_loss: weight must be [N], got ", w.sizes());
  }
  return opts.loss_weight * weight_reduce_loss(loss, w, reduction, avg_factor);
}

}  // namespace instseg
