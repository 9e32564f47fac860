#include "instseg/solov2/solov2_postprocess.h"

#include "instseg/core/check.h"
#include "instseg/core/compat.h"
#include "instseg/layers/autocast_off.h"
#include "instseg/layers/interpolate.h"
#include "instseg/solov2/matrix_nms.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace instseg {

at::Tensor masks_to_boxes_xyxy(const at::Tensor& masks) {
  const int64_t K = masks.size(0);
  at::Tensor boxes = at::zeros({K, 4}, masks.options().dtype(at::kFloat));
  if (K == 0) return boxes;
  at::Tensor m = masks.ne(0);
  at::Tensor rows = m.any(2);  // [K,H]
  at::Tensor cols = m.any(1);  // [K,W]
  const int64_t H = masks.size(1), W = masks.size(2);
  at::Tensor ridx = at::arange(H, masks.options().dtype(at::kLong));
  at::Tensor cidx = at::arange(W, masks.options().dtype(at::kLong));
  // First/last set index via masked min/max over the index ramps.
  at::Tensor y1 = at::where(rows, ridx, H).amin(1);
  at::Tensor y2 = at::where(rows, ridx, -1).amax(1) + 1;
  at::Tensor x1 = at::where(cols, cidx, W).amin(1);
  at::Tensor x2 = at::where(cols, cidx, -1).amax(1) + 1;
  boxes = at::stack({x1, y1, x2, y2}, 1).to(at::kFloat);
  at::Tensor nonempty = rows.any(1).unsqueeze(1);
  return boxes * nonempty;
}

namespace {

Instances empty_instances(const ImageMeta& meta, const at::TensorOptions& fopts) {
  Instances r;
  r.scores = at::zeros({0}, fopts.dtype(at::kFloat));
  r.labels = at::zeros({0}, fopts.dtype(at::kLong));
  r.bboxes = at::zeros({0, 4}, fopts.dtype(at::kFloat));
  r.masks = at::zeros({0, meta.ori_h, meta.ori_w}, fopts.dtype(at::kByte));
  r.image_id = meta.image_id;
  return r;
}

Instances predict_single(const at::Tensor& kernel_preds,  // [N,D]
                         const at::Tensor& cls_scores_in,  // [N,C]
                         const at::Tensor& mask_feats,     // [1,D,Hf,Wf]
                         const ImageMeta& meta, const SOLOv2HeadOptions& o, TensorDict* debug) {
  const SOLOv2TestOptions& cfg = o.test_cfg;
  const int64_t feat_h = mask_feats.size(2), feat_w = mask_feats.size(3);
  const int64_t stride = o.mask_feature_head.mask_stride;
  const at::TensorOptions fopts = mask_feats.options();

  // 2. Score threshold per (cell, class); row-major nonzero = upstream's order.
  at::Tensor score_mask = cls_scores_in.gt(cfg.score_thr);
  at::Tensor inds = score_mask.nonzero();  // [K,2] (cell, class)
  if (inds.size(0) == 0) return empty_instances(meta, fopts);
  at::Tensor cls_scores = cls_scores_in.index({score_mask});
  at::Tensor cells = inds.select(1, 0);
  at::Tensor cls_labels = inds.select(1, 1);
  at::Tensor kernels = kernel_preds.index_select(0, cells);

  // Level stride of every cell.
  std::vector<float> stride_of_cell;
  for (int l = 0; l < o.num_levels(); ++l)
    stride_of_cell.insert(stride_of_cell.end(), o.num_grids[l] * o.num_grids[l], static_cast<float>(o.strides[l]));
  at::Tensor strides = at::tensor(stride_of_cell, fopts.dtype(at::kFloat)).index_select(0, cells);

  // Dynamic conv -> soft masks.
  at::Tensor w = kernels.view({kernels.size(0), -1, o.dynamic_conv_size, o.dynamic_conv_size});
  // instseg::conv2d: K output channels (any count) in bf16 need LibTorch 2.6's padding (core/compat.h).
  at::Tensor mask_preds = instseg::conv2d(mask_feats, w, {}, {1, 1}, {0, 0}, {1, 1}, 1).squeeze(0).sigmoid();  // [K,Hf,Wf]
  at::Tensor masks = mask_preds.gt(cfg.mask_thr);
  at::Tensor sum_masks = masks.sum({1, 2}).to(at::kFloat);
  at::Tensor keep = sum_masks.gt(strides);
  if (!keep.any().item<bool>()) return empty_instances(meta, fopts);
  at::Tensor kidx = keep.nonzero().view(-1);
  masks = masks.index_select(0, kidx);
  mask_preds = mask_preds.index_select(0, kidx);
  sum_masks = sum_masks.index_select(0, kidx);
  cls_scores = cls_scores.index_select(0, kidx);
  cls_labels = cls_labels.index_select(0, kidx);

  // Maskness: mean soft value inside the binary mask.
  at::Tensor mask_scores = (mask_preds * masks).sum({1, 2}) / sum_masks;
  cls_scores = cls_scores * mask_scores;
  if (debug) {
    debug->set("post.nms_in.masks", masks.to(at::kByte));
    debug->set("post.nms_in.labels", cls_labels);
    debug->set("post.nms_in.scores", cls_scores);
    debug->set("post.nms_in.mask_area", sum_masks);
  }

  MatrixNMSOptions nms;
  nms.filter_thr = cfg.filter_thr;
  nms.nms_pre = cfg.nms_pre;
  nms.max_num = cfg.max_per_img;
  nms.kernel = cfg.kernel;
  nms.sigma = cfg.sigma;
  MatrixNMSResult r = mask_matrix_nms(masks, cls_labels, cls_scores, nms, sum_masks);
  if (debug) {
    debug->set("post.nms_out.scores", r.scores);
    debug->set("post.nms_out.labels", r.labels);
    debug->set("post.nms_out.keep_inds", r.keep_inds);
  }
  if (r.keep_inds.size(0) == 0) return empty_instances(meta, fopts);
  at::Tensor kept_soft = mask_preds.index_select(0, r.keep_inds);
  if (debug) debug->set("post.mask_preds_kept_soft", kept_soft);

  // 5. Upsample to the padded input, crop img_shape, resize to ori_shape, threshold.
  // Chunked so that K full-resolution float maps never coexist.
  const int64_t K = kept_soft.size(0);
  const int64_t img_h = std::min(meta.img_h, feat_h * stride), img_w = std::min(meta.img_w, feat_w * stride);
  INSTSEG_CHECK(img_h > 0 && img_w > 0 && meta.ori_h > 0 && meta.ori_w > 0,
                "solov2_postprocess: image meta needs img_shape and ori_shape, got img ", meta.img_h, "x",
                meta.img_w, " ori ", meta.ori_h, "x", meta.ori_w);
  at::Tensor out_masks = at::empty({K, meta.ori_h, meta.ori_w}, fopts.dtype(at::kByte));
  const int64_t chunk = 16;
  for (int64_t s = 0; s < K; s += chunk) {
    const int64_t e = std::min(K, s + chunk);
    at::Tensor m = kept_soft.slice(0, s, e).unsqueeze(0);
    m = resize_bilinear(m, feat_h * stride, feat_w * stride, false);
    m = m.slice(2, 0, img_h).slice(3, 0, img_w);
    // A resize to the same size is the identity, bit for bit (scale 1: every
    // source index is the destination index with weights 1 and 0), and costs as
    // much as the upsampling above: skip it when ori_shape == img_shape.
    if (img_h != meta.ori_h || img_w != meta.ori_w) m = resize_bilinear(m, meta.ori_h, meta.ori_w, false);
    m = m.squeeze(0);
    out_masks.slice(0, s, e).copy_(m.gt(cfg.mask_thr));
  }
  Instances res;
  res.scores = r.scores;
  res.labels = r.labels;
  res.masks = out_masks;
  res.bboxes = masks_to_boxes_xyxy(out_masks);
  res.image_id = meta.image_id;
  return res;
}

}  // namespace

std::vector<Instances> solov2_postprocess(const SOLOv2HeadOutputs& out, const std::vector<ImageMeta>& metas,
                                          const SOLOv2HeadOptions& o, TensorDict* debug) {
  const int L = o.num_levels();
  INSTSEG_CHECK(static_cast<int>(out.cls_preds.size()) == L && static_cast<int>(out.kernel_preds.size()) == L,
                "solov2_postprocess: expected ", L, " levels");
  const int64_t B = out.mask_feats.size(0);
  INSTSEG_CHECK(static_cast<int64_t>(metas.size()) == B, "solov2_postprocess: ", metas.size(),
                " metas for a batch of ", B);
  // Post-processing runs in fp32 whatever the head ran in: under bf16 autocast
  // it was 2.4x slower on the CPU (docs/performance.md), and Matrix NMS's mask
  // IoUs are matmuls of binary masks whose pixel counts bf16 cannot hold.
  // .to() is a no-op for fp32 outputs.
  AutocastOff fp32;
  // 1. Point NMS per level: keep a score only where it equals its 2x2 local max.
  std::vector<at::Tensor> scores(L), kernels(L);
  for (int l = 0; l < L; ++l) {
    at::Tensor s = out.cls_preds[l].to(at::kFloat).sigmoid();
    at::Tensor local_max = at::max_pool2d(s, {2, 2}, {1, 1}, {1, 1});
    at::Tensor keep = local_max.slice(2, 0, -1).slice(3, 0, -1).eq(s);
    scores[l] = (s * keep).permute({0, 2, 3, 1});  // [B,S,S,C]
    kernels[l] = out.kernel_preds[l].to(at::kFloat).permute({0, 2, 3, 1});  // [B,S,S,D]
  }
  std::vector<Instances> results;
  results.reserve(B);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<at::Tensor> sc, kp;
    for (int l = 0; l < L; ++l) {
      sc.push_back(scores[l][b].reshape({-1, o.num_classes}));
      kp.push_back(kernels[l][b].reshape({-1, o.kernel_out_channels()}));
    }
    at::Tensor img_scores = at::cat(sc, 0), img_kernels = at::cat(kp, 0);
    TensorDict* dbg = b == 0 ? debug : nullptr;
    if (dbg) dbg->set("post.cls_scores_after_point_nms", img_scores);
    results.push_back(
        predict_single(img_kernels, img_scores, out.mask_feats.slice(0, b, b + 1).to(at::kFloat), metas[b], o, dbg));
  }
  return results;
}

}  // namespace instseg
