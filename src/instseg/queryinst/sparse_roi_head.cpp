#include "instseg/queryinst/sparse_roi_head.h"

#include "instseg/core/check.h"
#include "instseg/engine/dist_hooks.h"
#include "instseg/losses/box_losses.h"
#include "instseg/losses/dice_loss.h"
#include "instseg/losses/focal_loss.h"
#include "instseg/queryinst/queryinst_postprocess.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <string>

namespace instseg {

namespace {
// [B,N,4] -> [B*N,5] RoIs (batch index, x1, y1, x2, y2), image-major.
at::Tensor batch_rois(const at::Tensor& boxes) {
  const int64_t b = boxes.size(0), n = boxes.size(1);
  auto idx = at::arange(b, boxes.options()).view({b, 1, 1}).expand({b, n, 1});
  return at::cat({idx, boxes}, 2).view({b * n, 5});
}

// mmdetection's avg_factor = reduce_mean(num_pos) in DIIHead and
// DynamicMaskHead: the mean over ranks of a float32 count (divided by the
// world size, then all-reduced), so that with data-parallel gradient
// averaging N processes train as one process with the global batch. The
// engine installs the all-reduce (engine/dist_hooks.h); one process: num_pos.
double mean_over_ranks(int64_t num_pos) {
  return reduce_mean(at::scalar_tensor(static_cast<double>(num_pos), at::kFloat)).item<double>();
}
}  // namespace

SparseRoIHeadImpl::SparseRoIHeadImpl(const SparseRoIHeadOptions& options) : options_(options) {
  const auto& o = options_;
  INSTSEG_CHECK(o.num_stages > 0, "SparseRoIHead: num_stages must be > 0");
  INSTSEG_CHECK(static_cast<int>(o.stage_loss_weights.size()) == o.num_stages,
                "SparseRoIHead: ", o.stage_loss_weights.size(), " stage_loss_weights for ",
                o.num_stages, " stages");
  bbox_head = register_module("bbox_head", torch::nn::ModuleList());
  for (int s = 0; s < o.num_stages; ++s) bbox_head->push_back(DIIHead(o.bbox_head));
  if (o.with_mask) {
    INSTSEG_CHECK(o.mask_head.num_classes == o.bbox_head.num_classes,
                  "SparseRoIHead: mask_head.num_classes != bbox_head.num_classes");
    mask_head = register_module("mask_head", torch::nn::ModuleList());
    for (int s = 0; s < o.num_stages; ++s) mask_head->push_back(DynamicMaskHead(o.mask_head));
  }
}

SparseStageOutput SparseRoIHeadImpl::stage_forward(int stage, const std::vector<at::Tensor>& feats,
                                                   const at::Tensor& boxes,
                                                   const at::Tensor& obj_feat) {
  INSTSEG_CHECK(stage >= 0 && stage < options_.num_stages, "SparseRoIHead: bad stage ", stage);
  INSTSEG_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "SparseRoIHead: boxes must be [B,N,4], got ",
                boxes.sizes());
  const int64_t b = boxes.size(0), n = boxes.size(1);
  auto rois = batch_rois(boxes);
  auto roi_feats = multi_level_roi_align(feats, rois.detach(), options_.bbox_roi);
  auto head = bbox_head->ptr(stage)->as<DIIHead>();
  auto h = head->forward(roi_feats, obj_feat);
  SparseStageOutput out;
  out.cls_score = h.cls_score;
  out.obj_feat = h.obj_feat;
  out.attn_feats = h.attn_feats;
  // Decoded from the (possibly differentiable) input boxes, as mmdet does.
  out.bboxes = delta_xywh_decode(boxes.reshape({b * n, 4}), h.bbox_delta.reshape({b * n, 4}),
                                 options_.bbox_coder)
                   .view({b, n, 4});
  return out;
}

at::Tensor SparseRoIHeadImpl::mask_forward(int stage, const std::vector<at::Tensor>& feats,
                                           const at::Tensor& rois, const at::Tensor& attn_feats) {
  INSTSEG_CHECK(options_.with_mask, "SparseRoIHead: built without mask heads");
  auto mask_feats = multi_level_roi_align(feats, rois.detach(), options_.mask_roi);
  return mask_head->ptr(stage)->as<DynamicMaskHead>()->forward(mask_feats, attn_feats);
}

LossMap SparseRoIHeadImpl::loss(const std::vector<at::Tensor>& feats, const at::Tensor& proposals,
                                const at::Tensor& features, const at::Tensor& imgs_whwh,
                                const std::vector<GtInstances>& gts,
                                const std::vector<ImageMeta>& metas, TensorDict* capture) {
  const auto& o = options_;
  const int64_t b = proposals.size(0), n = proposals.size(1);
  INSTSEG_CHECK(static_cast<int64_t>(gts.size()) == b && static_cast<int64_t>(metas.size()) == b,
                "SparseRoIHead::loss: ", b, " images but ", gts.size(), " GT sets and ",
                metas.size(), " metas");
  const int64_t num_classes = o.bbox_head.num_classes;
  auto dev = proposals.device();
  auto whwh = imgs_whwh.expand({b, n, 4}).reshape({b * n, 4});

  FocalLossOptions focal;
  focal.gamma = o.focal_gamma;
  focal.alpha = o.focal_alpha;
  focal.loss_weight = o.loss_cls_weight;
  BoxLossOptions l1o, giouo;
  l1o.loss_weight = o.loss_bbox_weight;
  giouo.loss_weight = o.loss_iou_weight;
  DiceLossOptions dice;
  dice.activate = false;
  dice.eps = o.dice_eps;
  dice.loss_weight = o.loss_mask_weight;

  LossMap losses;
  at::Tensor boxes = proposals, obj = features;
  for (int s = 0; s < o.num_stages; ++s) {
    const std::string p = "s" + std::to_string(s) + ".";
    const double w = o.stage_loss_weights[s];
    auto out = stage_forward(s, feats, boxes, obj);
    auto cls_flat = out.cls_score.reshape({b * n, num_classes});
    auto dec_flat = out.bboxes.reshape({b * n, 4});

    // 1. Hungarian matching per image on detached predictions.
    auto labels = at::full({b * n}, num_classes, proposals.options().dtype(at::kLong));
    auto targets = at::zeros({b * n, 4}, dec_flat.options().requires_grad(false));
    std::vector<at::Tensor> pos_flat, pos_rois, pos_attn, mask_tgts, pos_labels;
    std::vector<at::Tensor> assigned;
    for (int64_t i = 0; i < b; ++i) {
      const auto& gt = gts[i];
      auto gt_boxes = gt.size() > 0 ? gt.bboxes.to(dev).to(dec_flat.scalar_type())
                                    : at::zeros({0, 4}, dec_flat.options());
      auto gt_labels = gt.size() > 0 ? gt.labels.to(dev).to(at::kLong)
                                     : at::zeros({0}, labels.options());
      auto r = hungarian_assign(out.bboxes[i].detach(), out.cls_score[i].detach(), gt_boxes,
                                gt_labels, static_cast<double>(metas[i].img_h),
                                static_cast<double>(metas[i].img_w), o.assigner);
      assigned.push_back(r.gt_inds);
      auto pos = (r.gt_inds > 0).nonzero().squeeze(1);
      if (pos.numel() == 0) continue;
      auto gi = r.gt_inds.index_select(0, pos) - 1;
      auto flat = pos + i * n;
      pos_flat.push_back(flat);
      labels.index_put_({flat}, gt_labels.index_select(0, gi));
      targets.index_put_({flat}, gt_boxes.index_select(0, gi));
      if (o.with_mask) {
        auto det_boxes = out.bboxes[i].detach().index_select(0, pos);
        pos_rois.push_back(at::cat(
            {at::full({pos.size(0), 1}, static_cast<double>(i), det_boxes.options()), det_boxes},
            1));
        pos_attn.push_back(out.attn_feats[i].index_select(0, pos));
        INSTSEG_CHECK(gt.masks.defined() && gt.masks.dim() == 3 && gt.masks.size(0) == gt.size(),
                      "SparseRoIHead::loss: image ", i, " needs gt masks [G,H,W]");
        mask_tgts.push_back(queryinst_mask_targets(det_boxes, gt.masks, gi, o.mask_size));
        pos_labels.push_back(gt_labels.index_select(0, gi));
      }
    }
    if (capture) capture->set("queryinst.stage" + std::to_string(s) + ".assigned_gt_inds",
                              at::cat(assigned).detach());

    // 2. Box losses, normalised by the (all-reduced) number of positives.
    auto pos = pos_flat.empty() ? at::zeros({0}, labels.options()) : at::cat(pos_flat);
    const int64_t num_pos = pos.numel();
    const double avg_factor = mean_over_ranks(num_pos);
    losses.set(p + "loss_cls", sigmoid_focal_loss(cls_flat, labels, focal, {}, avg_factor) * w);
    if (num_pos > 0) {
      auto pos_cls = cls_flat.detach().index_select(0, pos);
      auto pos_lab = labels.index_select(0, pos);
      auto pred_lab = std::get<1>(pos_cls.topk(1, 1)).squeeze(1);
      losses.set(p + "pos_acc", (pred_lab == pos_lab).to(at::kFloat).sum() * (100.0 / num_pos));
      auto pb = dec_flat.index_select(0, pos);
      auto tb = targets.index_select(0, pos);
      auto pw = whwh.index_select(0, pos);
      auto ones = at::ones_like(pb);
      losses.set(p + "loss_bbox", l1_loss(pb / pw, tb / pw, l1o, ones, avg_factor) * w);
      losses.set(p + "loss_iou", giou_loss(pb, tb, giouo, ones, avg_factor) * w);
    } else {
      losses.set(p + "pos_acc", at::zeros({}, cls_flat.options().requires_grad(false)));
      losses.set(p + "loss_bbox", dec_flat.sum() * 0);
      losses.set(p + "loss_iou", dec_flat.sum() * 0);
    }

    // 3. Mask loss on the positives, masks cut with the predicted boxes.
    if (o.with_mask) {
      if (num_pos > 0) {
        auto preds = mask_forward(s, feats, at::cat(pos_rois), at::cat(pos_attn));
        auto lab = at::cat(pos_labels);
        auto sel = preds.index({at::arange(preds.size(0), lab.options()), lab}).sigmoid();
        const double mavg = std::max(mean_over_ranks(num_pos), 1.0);
        losses.set(p + "loss_mask",
                   dice_loss(sel, at::cat(mask_tgts).to(sel.device()), dice, {}, mavg) * w);
      } else {
        // No positives anywhere: mmdet's mask_preds.sum() of an empty tensor.
        losses.set(p + "loss_mask", out.attn_feats.sum() * 0);
      }
    }
    boxes = out.bboxes.detach();
    obj = out.obj_feat;
  }
  return losses;
}

std::vector<Instances> SparseRoIHeadImpl::predict(const std::vector<at::Tensor>& feats,
                                                  const at::Tensor& proposals,
                                                  const at::Tensor& features,
                                                  const std::vector<ImageMeta>& metas,
                                                  TensorDict* capture) {
  const auto& o = options_;
  const int64_t b = proposals.size(0), n = proposals.size(1);
  INSTSEG_CHECK(static_cast<int64_t>(metas.size()) == b, "SparseRoIHead::predict: ", b,
                " images but ", metas.size(), " metas");
  at::Tensor boxes = proposals, obj = features;
  SparseStageOutput out;
  for (int s = 0; s < o.num_stages; ++s) {
    out = stage_forward(s, feats, boxes, obj);
    obj = out.obj_feat;
    boxes = out.bboxes.detach();
    if (capture) {
      const std::string p = "queryinst.stage" + std::to_string(s) + ".";
      capture->set(p + "cls_score", out.cls_score.detach());
      capture->set(p + "bboxes", out.bboxes.detach());
      capture->set(p + "obj_feat", out.obj_feat.detach());
    }
  }
  at::Tensor mask_logits;
  if (o.with_mask) {
    mask_logits = mask_forward(o.num_stages - 1, feats, batch_rois(boxes),
                               out.attn_feats.reshape({b * n, -1}));
    if (capture) capture->set("queryinst.mask_logits", mask_logits.detach());
  }
  std::vector<Instances> results;
  for (int64_t i = 0; i < b; ++i) {
    auto ml = mask_logits.defined() ? mask_logits.narrow(0, i * n, n) : at::Tensor();
    results.push_back(queryinst_postprocess(out.cls_score[i], boxes[i], ml, metas[i],
                                            o.max_per_img, o.mask_thr_binary));
  }
  return results;
}

}  // namespace instseg
