#include "instseg/ops/multi_level_roi_align.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

namespace instseg {

at::Tensor map_roi_levels(const at::Tensor& rois, int64_t num_levels, double finest_scale) {
  INSTSEG_CHECK(rois.dim() == 2 && rois.size(1) == 5, "map_roi_levels: rois must be [K,5], got ",
                rois.sizes());
  // Same tensor ops and dtype as mmdet, so borderline sizes map identically.
  auto scale = at::sqrt((rois.select(1, 3) - rois.select(1, 1)) *
                        (rois.select(1, 4) - rois.select(1, 2)));
  auto lvls = at::floor(at::log2(scale / finest_scale + 1e-6));
  return lvls.clamp(0, num_levels - 1).to(at::kLong);
}

at::Tensor multi_level_roi_align(const std::vector<at::Tensor>& feats, const at::Tensor& rois,
                                 const MultiLevelRoIAlignOptions& opt) {
  const int64_t num_levels = static_cast<int64_t>(feats.size());
  INSTSEG_CHECK(num_levels > 0, "multi_level_roi_align: no feature levels");
  INSTSEG_CHECK(static_cast<int64_t>(opt.strides.size()) >= num_levels,
                "multi_level_roi_align: ", num_levels, " levels but ", opt.strides.size(),
                " strides");
  INSTSEG_CHECK(rois.dim() == 2 && rois.size(1) == 5,
                "multi_level_roi_align: rois must be [K,5], got ", rois.sizes());
  // The RoIAlign kernels are float32/float64: reduced-precision features
  // (autocast) are pooled in float32.
  std::vector<at::Tensor> fp_feats;
  const bool reduced = feats[0].scalar_type() == at::kHalf || feats[0].scalar_type() == at::kBFloat16;
  if (reduced) {
    for (const auto& f : feats) fp_feats.push_back(f.to(at::kFloat));
  }
  const std::vector<at::Tensor>& fs = reduced ? fp_feats : feats;
  const auto& f0 = fs[0];
  auto r = rois.detach().to(f0.scalar_type());
  const int64_t k = r.size(0), s = opt.output_size;
  RoIAlignOptions ra;
  ra.output_h = ra.output_w = s;
  ra.sampling_ratio = opt.sampling_ratio;
  ra.aligned = opt.aligned;
  if (num_levels == 1) {
    ra.spatial_scale = 1.0 / opt.strides[0];
    return roi_align(f0, r, ra);
  }
  auto out = at::zeros({k, f0.size(1), s, s}, f0.options());
  if (k == 0) return out;
  auto lvls = map_roi_levels(r, num_levels, opt.finest_scale);
  for (int64_t l = 0; l < num_levels; ++l) {
    auto inds = (lvls == l).nonzero().squeeze(1);
    if (inds.numel() == 0) continue;
    ra.spatial_scale = 1.0 / opt.strides[l];
    auto level_out = roi_align(fs[l], r.index_select(0, inds), ra);
    out = out.index_put({inds}, level_out);
  }
  return out;
}

}  // namespace instseg
