#include "instseg/solov2/solov2_targets.h"

#include "instseg/core/check.h"
#include "instseg/ops/resize.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace instseg {

std::pair<at::Tensor, at::Tensor> center_of_mass(const at::Tensor& mask_in) {
  // Same dtypes as upstream: integer moment sums, float32 normaliser.
  at::Tensor mask = mask_in.to(at::kBool);
  const int64_t h = mask.size(0), w = mask.size(1);
  at::Tensor grid_h = at::arange(h, mask.options().dtype(at::kLong)).unsqueeze(1);
  at::Tensor grid_w = at::arange(w, mask.options().dtype(at::kLong));
  at::Tensor normalizer = mask.sum().to(at::kFloat).clamp_min(1e-6);
  at::Tensor center_h = (mask * grid_h).sum() / normalizer;
  at::Tensor center_w = (mask * grid_w).sum() / normalizer;
  return {center_h, center_w};
}

// int(torch.div(x, 1/S, rounding_mode='trunc')) on a float32 scalar tensor.
static int64_t grid_coord(const at::Tensor& x, int64_t num_grid) {
  return static_cast<int64_t>(at::div(x, 1. / static_cast<double>(num_grid), "trunc").item<float>());
}

std::vector<SOLOv2LevelTargets> solov2_targets_single(const GtInstances& gt, int64_t feat_h, int64_t feat_w,
                                                      const SOLOv2HeadOptions& o) {
  const int64_t num_gt = gt.size();
  const int L = o.num_levels();
  std::vector<SOLOv2LevelTargets> out(L);
  at::Device device = gt.labels.defined() ? gt.labels.device() : at::Device(at::kCPU);
  if (num_gt > 0) {
    INSTSEG_CHECK(gt.bboxes.dim() == 2 && gt.bboxes.size(0) == num_gt && gt.bboxes.size(1) == 4,
                  "solov2_targets: bboxes must be [N,4], got ", gt.bboxes.sizes());
    INSTSEG_CHECK(gt.masks.dim() == 3 && gt.masks.size(0) == num_gt, "solov2_targets: masks must be [N,H,W], got ",
                  gt.masks.sizes());
  }
  const int64_t up_h = feat_h * o.mask_feature_head.mask_stride;
  const int64_t up_w = feat_w * o.mask_feature_head.mask_stride;

  // Per-GT quantities shared by all levels (computed on the CPU: scalars and loops).
  at::Tensor bboxes, labels_cpu, masks_cpu, areas, pos_w, pos_h, valid;
  if (num_gt > 0) {
    bboxes = gt.bboxes.to(at::kCPU, at::kFloat);
    labels_cpu = gt.labels.to(at::kCPU, at::kLong);
    masks_cpu = gt.masks.to(at::kCPU);
    at::Tensor bw = bboxes.select(1, 2) - bboxes.select(1, 0);
    at::Tensor bh = bboxes.select(1, 3) - bboxes.select(1, 1);
    areas = at::sqrt(bw * bh);
    pos_w = 0.5 * bw * o.pos_scale;
    pos_h = 0.5 * bh * o.pos_scale;
    valid = masks_cpu.ne(0).sum({1, 2}).gt(0);
  }
  std::vector<at::Tensor> rescaled(num_gt);  // lazily computed cv2 imrescale(1/stride)
  std::vector<std::pair<at::Tensor, at::Tensor>> centers(num_gt);

  for (int l = 0; l < L; ++l) {
    const int64_t S = o.num_grids[l];
    const double lower = o.scale_ranges[l].first, upper = o.scale_ranges[l].second;
    at::Tensor labels = at::full({S, S}, o.num_classes, at::TensorOptions().dtype(at::kLong));
    at::Tensor pos_mask = at::zeros({S * S}, at::TensorOptions().dtype(at::kBool));
    auto* lab = labels.data_ptr<int64_t>();
    auto* pm = pos_mask.data_ptr<bool>();
    std::vector<at::Tensor> mask_targets;
    std::vector<int64_t> pos_index;
    for (int64_t g = 0; g < num_gt; ++g) {
      const float area = areas[g].item<float>();
      if (!(area >= lower && area <= upper)) continue;
      if (!valid[g].item<bool>()) continue;
      if (!centers[g].first.defined()) centers[g] = center_of_mass(masks_cpu[g]);
      const at::Tensor& ch = centers[g].first;
      const at::Tensor& cw = centers[g].second;
      const int64_t coord_w = grid_coord(cw / static_cast<double>(up_w), S);
      const int64_t coord_h = grid_coord(ch / static_cast<double>(up_h), S);
      const int64_t top_box = std::max<int64_t>(0, grid_coord((ch - pos_h[g]) / static_cast<double>(up_h), S));
      const int64_t down_box = std::min<int64_t>(S - 1, grid_coord((ch + pos_h[g]) / static_cast<double>(up_h), S));
      const int64_t left_box = std::max<int64_t>(0, grid_coord((cw - pos_w[g]) / static_cast<double>(up_w), S));
      const int64_t right_box = std::min<int64_t>(S - 1, grid_coord((cw + pos_w[g]) / static_cast<double>(up_w), S));
      const int64_t top = std::max(top_box, coord_h - 1);
      const int64_t down = std::min(down_box, coord_h + 1);
      const int64_t left = std::max(coord_w - 1, left_box);
      const int64_t right = std::min(right_box, coord_w + 1);
      const int64_t label = labels_cpu[g].item<int64_t>();
      for (int64_t i = top; i <= down; ++i)
        for (int64_t j = left; j <= right; ++j) lab[i * S + j] = label;

      if (!rescaled[g].defined()) {
        // mmcv.imrescale(mask, 1/stride): cv2 INTER_LINEAR to (int(w/s+0.5), int(h/s+0.5)),
        // pasted top-left on a [feat_h, feat_w] canvas.
        at::Tensor m = masks_cpu[g].ne(0).to(at::kByte);
        int64_t rh, rw;
        cv_rescale_size(m.size(0), m.size(1), 1.0 / static_cast<double>(o.mask_feature_head.mask_stride), &rh, &rw);
        at::Tensor r = cv_resize_bilinear_u8(m, rh, rw);
        at::Tensor canvas = at::zeros({feat_h, feat_w}, at::kByte);
        const int64_t ph = std::min(rh, feat_h), pw = std::min(rw, feat_w);
        canvas.slice(0, 0, ph).slice(1, 0, pw).copy_(r.slice(0, 0, ph).slice(1, 0, pw));
        rescaled[g] = canvas;
      }
      for (int64_t i = top; i <= down; ++i)
        for (int64_t j = left; j <= right; ++j) {
          const int64_t index = i * S + j;
          mask_targets.push_back(rescaled[g]);
          pm[index] = true;
          pos_index.push_back(index);
        }
    }
    SOLOv2LevelTargets& t = out[l];
    t.labels = labels.to(device);
    t.pos_mask = pos_mask.to(device);
    t.mask_targets = mask_targets.empty() ? at::zeros({0, feat_h, feat_w}, at::TensorOptions().dtype(at::kByte).device(device))
                                          : at::stack(mask_targets, 0).to(device);
    t.pos_index = std::move(pos_index);
  }
  return out;
}

}  // namespace instseg

