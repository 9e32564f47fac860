#include "instseg/losses/focal_loss.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <limits>

namespace instseg {

at::Tensor weight_reduce_loss(const at::Tensor& loss_in, const at::Tensor& weight,
                              const std::string& reduction, instseg::optional<double> avg_factor) {
  at::Tensor loss = loss_in;
  if (weight.defined()) loss = loss * weight;
  if (!avg_factor.has_value()) {
    if (reduction == "mean") return loss.mean();
    if (reduction == "sum") return loss.sum();
    INSTSEG_CHECK(reduction == "none", "weight_reduce_loss: unknown reduction '", reduction, "'");
    return loss;
  }
  if (reduction == "mean") {
    // mmdet adds float32 eps so that avg_factor == 0 does not divide by zero.
    const double eps = std::numeric_limits<float>::epsilon();
    return loss.sum() / (*avg_factor + eps);
  }
  INSTSEG_CHECK(reduction == "none", "weight_reduce_loss: avg_factor cannot be used with reduction '",
                reduction, "'");
  return loss;
}

at::Tensor sigmoid_focal_loss(const at::Tensor& pred, const at::Tensor& target_in,
                              const FocalLossOptions& opts, const at::Tensor& weight_in,
                              instseg::optional<double> avg_factor,
                              const std::string& reduction_override) {
  INSTSEG_CHECK(pred.dim() == 2, "sigmoid_focal_loss: pred must be [N,C], got ", pred.sizes());
  const std::string reduction = reduction_override.empty() ? opts.reduction : reduction_override;
  const int64_t num_classes = pred.size(1);
  at::Tensor target;
  if (target_in.dim() == pred.dim()) {
    INSTSEG_CHECK(target_in.sizes() == pred.sizes(), "sigmoid_focal_loss: target ", target_in.sizes(),
                  " vs pred ", pred.sizes());
    target = target_in.to(pred.scalar_type());
  } else {
    INSTSEG_CHECK(target_in.dim() == 1 && target_in.size(0) == pred.size(0),
                  "sigmoid_focal_loss: labels must be [N] with N=", pred.size(0), ", got ",
                  target_in.sizes());
    // one_hot over C+1 classes, background column dropped.
    target = at::one_hot(target_in.to(at::kLong), num_classes + 1)
                 .slice(1, 0, num_classes)
                 .to(pred.scalar_type());
  }
  at::Tensor p = pred.sigmoid();
  at::Tensor pt = (1 - p) * target + p * (1 - target);
  at::Tensor focal_weight = (opts.alpha * target + (1 - opts.alpha) * (1 - target)) * pt.pow(opts.gamma);
  at::Tensor loss =
      at::binary_cross_entropy_with_logits(pred, target, {}, {}, at::Reduction::None) * focal_weight;
  at::Tensor weight = weight_in;
  if (weight.defined()) {
    if (weight.dim() == 1) {
      INSTSEG_CHECK(weight.size(0) == loss.size(0), "sigmoid_focal_loss: weight ", weight.sizes());
      weight = weight.view({-1, 1});
    } else {
      INSTSEG_CHECK(weight.sizes() == loss.sizes(), "sigmoid_focal_loss: weight ", weight.sizes());
    }
  }
  return opts.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor);
}

}  // namespace instseg
