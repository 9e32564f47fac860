// Dice loss as mmdetection's DiceLoss computes it (V-Net form by default).
// SOLOv2: eps 1e-3, activate (sigmoid), loss_weight 3. QueryInst's
// DynamicMaskHead: eps 1e-5, activate=false, loss_weight 8.
#pragma once
#include "instseg/core/compat.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace instseg {

struct DiceLossOptions {
  bool use_sigmoid = true;
  bool activate = true;      // apply sigmoid to pred first
  std::string reduction = "mean";
  bool naive_dice = false;   // false: 2ab/(a^2+eps + b^2+eps); true: (2ab+eps)/(a+b+eps)
  double loss_weight = 1.0;
  double eps = 1e-3;
};

// pred: [N,...] logits (activate) or probabilities; target: [N,...] same
// numel per row (any dtype, converted to float). weight: optional [N].
// Returns loss_weight * reduce(1 - dice_n); [N] for reduction "none".
at::Tensor dice_loss(const at::Tensor& pred, const at::Tensor& target, const DiceLossOptions& opts,
                     const at::Tensor& weight = at::Tensor(),
                     instseg::optional<double> avg_factor = instseg::nullopt,
                     const std::string& reduction_override = "");

}  // namespace instseg
