// Sigmoid focal loss (Lin et al. 2017), as mmdetection's FocalLoss with
// use_sigmoid=True computes it on the CPU (py_sigmoid_focal_loss), with
// mmdetection's (pred, target, weight, avg_factor) calling convention.
#pragma once
#include "instseg/core/compat.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace instseg {

struct FocalLossOptions {
  double gamma = 2.0;
  double alpha = 0.25;
  std::string reduction = "mean";  // "none" | "mean" | "sum"
  double loss_weight = 1.0;
};

// pred: [N,C] logits. target: [N] int64 labels in [0, C] where C means
// background (all-zero one-hot row), or [N,C] float one-hot/soft targets.
// weight: optional, [N] or [N,C]. With reduction "mean" and avg_factor set,
// the result is sum / (avg_factor + float32 eps) (mmdet weight_reduce_loss).
// Returns a scalar, or [N,C] for reduction "none", times loss_weight.
at::Tensor sigmoid_focal_loss(const at::Tensor& pred, const at::Tensor& target,
                              const FocalLossOptions& opts,
                              const at::Tensor& weight = at::Tensor(),
                              instseg::optional<double> avg_factor = instseg::nullopt,
                              const std::string& reduction_override = "");

// mmdet's weight_reduce_loss: optional elementwise weight, then reduction.
at::Tensor weight_reduce_loss(const at::Tensor& loss, const at::Tensor& weight,
                              const std::string& reduction, instseg::optional<double> avg_factor);

}  // namespace instseg
