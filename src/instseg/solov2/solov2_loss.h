// SOLOv2 losses (mmdet SOLOV2Head.loss_by_feat):
//   loss_mask = sum over positives of loss_weight * Dice(sigmoid(dynamic conv), target) / num_pos
//   loss_cls  = sigmoid focal over all cells x classes / (num_pos + 1)
// num_pos counts unique positive cells; the dice sum runs over every
// (cell, GT) entry. Without positives loss_mask = 0 * mask_feats.sum().
#pragma once
#include "instseg/solov2/options.h"
#include "instseg/solov2/solov2_head.h"
#include "instseg/solov2/solov2_targets.h"
#include "instseg/structures/instances.h"
#include "instseg/structures/tensor_dict.h"

#include <vector>

namespace instseg {

// gts: one entry per image (masks at the padded input size). When `targets`
// is given it receives the per-image, per-level targets.
LossMap solov2_loss(const SOLOv2HeadOutputs& outputs, const std::vector<GtInstances>& gts,
                    const SOLOv2HeadOptions& options,
                    std::vector<std::vector<SOLOv2LevelTargets>>* targets = nullptr);

}  // namespace instseg
