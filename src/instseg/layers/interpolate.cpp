#include "instseg/layers/interpolate.h"

#include <torch/nn/functional/upsampling.h>

#include <string>
#include <vector>

#include "instseg/core/check.h"

namespace instseg {
namespace F = torch::nn::functional;

namespace {

void check_nchw(const at::Tensor& x, const char* what) {
  INSTSEG_CHECK(x.defined() && x.dim() == 4, what, ": expected an [N,C,H,W] tensor, got ",
                x.defined() ? x.sizes() : at::IntArrayRef{});
  INSTSEG_CHECK(x.is_floating_point(), what, ": expected a floating tensor, got ", x.scalar_type());
}

}  // namespace

at::Tensor resize_nearest(const at::Tensor& x, int64_t out_h, int64_t out_w) {
  check_nchw(x, "resize_nearest");
  INSTSEG_CHECK(out_h > 0 && out_w > 0, "resize_nearest: bad size ", out_h, "x", out_w);
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{out_h, out_w})
                               .mode(torch::kNearest));
}

at::Tensor resize_bilinear(const at::Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  check_nchw(x, "resize_bilinear");
  INSTSEG_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: bad size ", out_h, "x", out_w);
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{out_h, out_w})
                               .mode(torch::kBilinear)
                               .align_corners(align_corners));
}

at::Tensor resize_by_scale(const at::Tensor& x, double scale_factor, const char* mode,
                           bool align_corners) {
  check_nchw(x, "resize_by_scale");
  INSTSEG_CHECK(scale_factor > 0.0, "resize_by_scale: bad scale_factor ", scale_factor);
  const std::string m(mode);
  auto opts = F::InterpolateFuncOptions().scale_factor(std::vector<double>{scale_factor, scale_factor});
  if (m == "nearest") {
    opts.mode(torch::kNearest);
  } else if (m == "bilinear") {
    opts.mode(torch::kBilinear).align_corners(align_corners);
  } else {
    INSTSEG_CHECK(false, "resize_by_scale: unsupported mode '", m, "'");
  }
  return F::interpolate(x, opts);
}

}  // namespace instseg
