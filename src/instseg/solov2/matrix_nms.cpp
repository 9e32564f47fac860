#include "instseg/solov2/matrix_nms.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

namespace instseg {

static MatrixNMSResult empty_result(const at::Tensor& masks, const at::Tensor& labels, const at::Tensor& scores) {
  MatrixNMSResult r;
  r.scores = at::zeros({0}, scores.options());
  r.labels = at::zeros({0}, labels.options());
  r.masks = at::zeros({0, masks.size(-2), masks.size(-1)}, masks.options());
  r.keep_inds = at::zeros({0}, labels.options().dtype(at::kLong));
  return r;
}

MatrixNMSResult mask_matrix_nms(const at::Tensor& masks_in, const at::Tensor& labels_in,
                                const at::Tensor& scores_in, const MatrixNMSOptions& o,
                                const at::Tensor& mask_area_in) {
  INSTSEG_CHECK(masks_in.dim() == 3, "mask_matrix_nms: masks must be [N,H,W], got ", masks_in.sizes());
  const int64_t n_in = masks_in.size(0);
  INSTSEG_CHECK(labels_in.dim() == 1 && labels_in.size(0) == n_in && scores_in.dim() == 1 &&
                    scores_in.size(0) == n_in,
                "mask_matrix_nms: labels ", labels_in.sizes(), " and scores ", scores_in.sizes(),
                " must be [N] with N=", n_in);
  INSTSEG_CHECK(o.kernel == "gaussian" || o.kernel == "linear", "mask_matrix_nms: unknown kernel '",
                o.kernel, "' (gaussian|linear)");
  if (n_in == 0) return empty_result(masks_in, labels_in, scores_in);
  at::Tensor mask_area = mask_area_in.defined() ? mask_area_in : masks_in.sum({1, 2}).to(at::kFloat);
  INSTSEG_CHECK(mask_area.dim() == 1 && mask_area.size(0) == n_in, "mask_matrix_nms: mask_area ",
                mask_area.sizes());

  // 1. Sort by score, keep the top nms_pre.
  auto sorted = at::sort(scores_in, /*stable=*/true, /*dim=*/0, /*descending=*/true);
  at::Tensor scores = std::get<0>(sorted);
  at::Tensor sort_inds = std::get<1>(sorted);
  if (o.nms_pre > 0 && sort_inds.size(0) > o.nms_pre) {
    sort_inds = sort_inds.slice(0, 0, o.nms_pre);
    scores = scores.slice(0, 0, o.nms_pre);
  }
  at::Tensor keep_inds = sort_inds;
  at::Tensor masks = masks_in.index_select(0, sort_inds);
  mask_area = mask_area.index_select(0, sort_inds);
  at::Tensor labels = labels_in.index_select(0, sort_inds);

  // 2. Pairwise IoU, upper triangle (row i scores higher than column j), same class only.
  const int64_t n = labels.size(0);
  at::Tensor flat = masks.reshape({n, -1}).to(at::kFloat);
  at::Tensor inter = at::mm(flat, flat.t());
  at::Tensor area = mask_area.expand({n, n});
  at::Tensor iou = (inter / (area + area.t() - inter)).triu(1);
  at::Tensor lab = labels.expand({n, n});
  at::Tensor label_matrix = lab.eq(lab.t()).triu(1);

  // 3. Compensation: how much each i was itself overlapped (column max), broadcast along rows.
  at::Tensor decay_iou = iou * label_matrix;
  at::Tensor compensate = std::get<0>(decay_iou.max(0)).expand({n, n}).t();
  at::Tensor decay;
  if (o.kernel == "gaussian") {
    at::Tensor decay_matrix = at::exp(-1 * o.sigma * decay_iou.pow(2));
    at::Tensor compensate_matrix = at::exp(-1 * o.sigma * compensate.pow(2));
    decay = std::get<0>((decay_matrix / compensate_matrix).min(0));
  } else {
    decay = std::get<0>(((1 - decay_iou) / (1 - compensate)).min(0));
  }
  scores = scores * decay;

  // 4. Filter, re-sort, keep max_num.
  if (o.filter_thr > 0) {
    at::Tensor keep = scores.ge(o.filter_thr);
    if (!keep.any().item<bool>()) return empty_result(masks_in, labels_in, scores_in);
    at::Tensor idx = keep.nonzero().view(-1);
    keep_inds = keep_inds.index_select(0, idx);
    masks = masks.index_select(0, idx);
    scores = scores.index_select(0, idx);
    labels = labels.index_select(0, idx);
  }
  auto resorted = at::sort(scores, /*stable=*/true, 0, true);
  scores = std::get<0>(resorted);
  at::Tensor order = std::get<1>(resorted);
  if (o.max_num > 0 && order.size(0) > o.max_num) {
    order = order.slice(0, 0, o.max_num);
    scores = scores.slice(0, 0, o.max_num);
  }
  MatrixNMSResult r;
  r.scores = scores;
  r.keep_inds = keep_inds.index_select(0, order);
  r.masks = masks.index_select(0, order);
  r.labels = labels.index_select(0, order);
  return r;
}

}  // namespace instseg
