// Resizing of NCHW feature maps with the numerics of
// torch.nn.functional.interpolate, which the upstream models call:
//  - FPN top-down: interpolate(x, size=prev_shape, mode='nearest');
//  - SOLOv2 resize_feats: interpolate(x, size=..., mode='bilinear', align_corners=False);
//  - mask feature head: nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False).
// With `size`, the kernel gets no scale factors and derives the source index from
// in/out (nearest: floor(dst * in / out)); with `scale_factor` (and
// recompute_scale_factor unset, as upstream) it uses 1/scale_factor. The two differ
// when out is not an exact multiple of in, hence two entry points.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace instseg {

// x: [N,C,H,W] floating -> [N,C,out_h,out_w]; F.interpolate(x, size=(out_h,out_w), mode='nearest').
at::Tensor resize_nearest(const at::Tensor& x, int64_t out_h, int64_t out_w);

// x: [N,C,H,W] -> [N,C,out_h,out_w]; F.interpolate(x, size=..., mode='bilinear', align_corners=...).
at::Tensor resize_bilinear(const at::Tensor& x, int64_t out_h, int64_t out_w,
                           bool align_corners = false);

// x: [N,C,H,W] -> [N,C,floor(H*s),floor(W*s)]; F.interpolate(x, scale_factor=s, mode=...),
// mode "nearest" or "bilinear" (align_corners only for bilinear).
at::Tensor resize_by_scale(const at::Tensor& x, double scale_factor, const char* mode,
                           bool align_corners = false);

}  // namespace instseg
