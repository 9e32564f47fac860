// Box regression losses with mmdetection's (pred, target, weight, avg_factor)
// convention: L1Loss and GIoULoss.
#pragma once
#include "instseg/core/compat.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace instseg {

struct BoxLossOptions {
  std::string reduction = "mean";  // "none" | "mean" | "sum"
  double loss_weight = 1.0;
};

// |pred - target| element-wise; pred, target [N,4] (any matching shape).
// weight: optional, same shape as pred. Empty target gives pred.sum() * 0.
at::Tensor l1_loss(const at::Tensor& pred, const at::Tensor& target, const BoxLossOptions& opts,
                   const at::Tensor& weight = at::Tensor(),
                   instseg::optional<double> avg_factor = instseg::nullopt);

// 1 - GIoU of aligned xyxy pairs pred [N,4], target [N,4] (eps 1e-6).
// weight: optional [N] or [N,4] (averaged over the last dim, as mmdet). When
// a weight is given and none is > 0 the result is (pred * weight).sum() (0
// with a gradient path).
at::Tensor giou_loss(const at::Tensor& pred, const at::Tensor& target, const BoxLossOptions& opts,
                     const at::Tensor& weight = at::Tensor(),
                     instseg::optional<double> avg_factor = instseg::nullopt, double eps = 1e-6);

}  // namespace instseg
