#include "instseg/solov2/solov2_loss.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"
#include "instseg/losses/dice_loss.h"
#include "instseg/losses/focal_loss.h"

#include <ATen/ATen.h>

namespace instseg {

LossMap solov2_loss(const SOLOv2HeadOutputs& out, const std::vector<GtInstances>& gts,
                    const SOLOv2HeadOptions& o, std::vector<std::vector<SOLOv2LevelTargets>>* targets_out) {
  const int64_t B = out.mask_feats.size(0);
  const int L = o.num_levels();
  INSTSEG_CHECK(static_cast<int64_t>(gts.size()) == B, "solov2_loss: ", gts.size(), " GT entries for a batch of ", B);
  INSTSEG_CHECK(static_cast<int>(out.kernel_preds.size()) == L && static_cast<int>(out.cls_preds.size()) == L,
                "solov2_loss: expected ", L, " levels of predictions");
  const int64_t feat_h = out.mask_feats.size(2), feat_w = out.mask_feats.size(3);
  const at::Device device = out.mask_feats.device();

  std::vector<std::vector<SOLOv2LevelTargets>> targets(B);
  for (int64_t b = 0; b < B; ++b) targets[b] = solov2_targets_single(gts[b], feat_h, feat_w, o);

  // Dynamic conv of the positive kernels, level by level, image by image.
  int64_t num_pos = 0;
  std::vector<at::Tensor> loss_mask_terms;
  for (int l = 0; l < L; ++l) {
    std::vector<at::Tensor> preds, tgts;
    for (int64_t b = 0; b < B; ++b) {
      const SOLOv2LevelTargets& t = targets[b][l];
      num_pos += t.pos_mask.sum().item<int64_t>();
      if (t.pos_index.empty()) continue;
      at::Tensor kp = out.kernel_preds[l][b];  // [D,S,S]
      at::Tensor idx = at::tensor(t.pos_index, at::TensorOptions().dtype(at::kLong)).to(device);
      at::Tensor kernels = kp.reshape({kp.size(0), -1}).index_select(1, idx);  // [D,P]
      const int64_t P = kernels.size(1);
      at::Tensor w = kernels.t().reshape({P, -1, o.dynamic_conv_size, o.dynamic_conv_size});
      // instseg::conv2d: P output channels under bf16 autocast need LibTorch 2.6's padding (core/compat.h).
      preds.push_back(
          instseg::conv2d(out.mask_feats.slice(0, b, b + 1), w, {}, {1, 1}, {0, 0}, {1, 1}, 1).view({-1, feat_h, feat_w}));
      tgts.push_back(t.mask_targets);
    }
    if (preds.empty()) continue;
    loss_mask_terms.push_back(dice_loss(at::cat(preds, 0), at::cat(tgts, 0), o.loss_mask, at::Tensor(),
                                        instseg::nullopt, "none"));
  }
  at::Tensor loss_mask;
  if (num_pos > 0) {
    loss_mask = at::cat(loss_mask_terms).sum() / static_cast<double>(num_pos);
  } else {
    loss_mask = out.mask_feats.sum() * 0;
  }

  // Classification over every cell: level-major, then image, then row-major cell.
  std::vector<at::Tensor> flat_labels, flat_preds;
  for (int l = 0; l < L; ++l) {
    for (int64_t b = 0; b < B; ++b) flat_labels.push_back(targets[b][l].labels.flatten());
    flat_preds.push_back(out.cls_preds[l].permute({0, 2, 3, 1}).reshape({-1, o.num_classes}));
  }
  at::Tensor loss_cls = sigmoid_focal_loss(at::cat(flat_preds), at::cat(flat_labels).to(device), o.loss_cls,
                                           at::Tensor(), static_cast<double>(num_pos + 1));
  LossMap losses;
  losses.set("loss_mask", loss_mask);
  losses.set("loss_cls", loss_cls);
  if (targets_out) *targets_out = std::move(targets);
  return losses;
}

}  // namespace instseg
