// RoIAlign: entry checks, the device switch and the autograd Function.
#include "instseg/ops/roi_align.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace instseg {

namespace {

void check_inputs(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& opt) {
  INSTSEG_CHECK(input.dim() == 4, "roi_align: input must be [N,C,H,W], got ", input.sizes());
  INSTSEG_CHECK(rois.dim() == 2 && rois.size(1) == 5,
                "roi_align: rois must be [K,5] (batch_index, x1, y1, x2, y2), got ", rois.sizes());
  INSTSEG_CHECK(input.scalar_type() == rois.scalar_type(), "roi_align: input (",
                input.scalar_type(), ") and rois (", rois.scalar_type(), ") dtypes differ");
  INSTSEG_CHECK(input.scalar_type() == at::kFloat || input.scalar_type() == at::kDouble,
                "roi_align: float32/float64 only, got ", input.scalar_type());
  INSTSEG_CHECK(input.device() == rois.device(), "roi_align: input on ", input.device(),
                ", rois on ", rois.device());
  INSTSEG_CHECK(opt.output_h > 0 && opt.output_w > 0, "roi_align: output size must be > 0, got ",
                opt.output_h, "x", opt.output_w);
  INSTSEG_CHECK(opt.spatial_scale > 0, "roi_align: spatial_scale must be > 0");
  // A bad batch index would read out of bounds: check it where that is cheap.
  if (rois.is_cpu() && rois.size(0) > 0) {
    auto b = rois.select(1, 0);
    double lo = b.min().item<double>(), hi = b.max().item<double>();
    INSTSEG_CHECK(lo >= 0 && hi < static_cast<double>(input.size(0)),
                  "roi_align: batch indices must lie in [0, ", input.size(0), "), got [", lo, ", ",
                  hi, "]");
  }
}

class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                int64_t output_h, int64_t output_w,
                                                double spatial_scale, int64_t sampling_ratio,
                                                bool aligned) {
    RoIAlignOptions opt{output_h, output_w, spatial_scale, sampling_ratio, aligned};
    ctx->saved_data["output_h"] = output_h;
    ctx->saved_data["output_w"] = output_w;
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["input_sizes"] = input.sizes().vec();
    ctx->save_for_backward({rois});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {roi_align_forward(input, rois, opt)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 const torch::autograd::variable_list& grads) {
    auto rois = ctx->get_saved_variables()[0];
    RoIAlignOptions opt{ctx->saved_data["output_h"].toInt(), ctx->saved_data["output_w"].toInt(),
                        ctx->saved_data["spatial_scale"].toDouble(),
                        ctx->saved_data["sampling_ratio"].toInt(),
                        ctx->saved_data["aligned"].toBool()};
    auto sizes = ctx->saved_data["input_sizes"].toIntVector();
    auto grad_input = roi_align_backward(grads[0], rois, sizes, opt);
    // No gradient w.r.t. the boxes (mmcv and torchvision give none either).
    return {grad_input,          torch::autograd::Variable(), torch::autograd::Variable(),
            torch::autograd::Variable(), torch::autograd::Variable(), torch::autograd::Variable(),
            torch::autograd::Variable()};
  }
};

}  // namespace

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois,
                             const RoIAlignOptions& opt) {
  check_inputs(input, rois, opt);
  auto in = input.contiguous();
  auto r = rois.contiguous();
  if (in.is_cuda()) {
#ifdef INSTSEG_WITH_CUDA
    return detail::roi_align_forward_cuda(in, r, opt);
#else
    INSTSEG_CHECK(false, "roi_align: instseg was built without CUDA kernels");
#endif
  }
  INSTSEG_CHECK(in.is_cpu(), "roi_align: unsupported device ", in.device());
  return detail::roi_align_forward_cpu(in, r, opt);
}

at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              at::IntArrayRef input_sizes, const RoIAlignOptions& opt) {
  INSTSEG_CHECK(input_sizes.size() == 4, "roi_align_backward: input_sizes must have 4 entries");
  INSTSEG_CHECK(grad_output.dim() == 4 && grad_output.size(0) == rois.size(0) &&
                    grad_output.size(1) == input_sizes[1] && grad_output.size(2) == opt.output_h &&
                    grad_output.size(3) == opt.output_w,
                "roi_align_backward: grad_output ", grad_output.sizes(), " does not match ",
                rois.size(0), " rois, ", input_sizes[1], " channels, ", opt.output_h, "x",
                opt.output_w);
  auto g = grad_output.contiguous();
  auto r = rois.contiguous().to(g.scalar_type());
  if (g.is_cuda()) {
#ifdef INSTSEG_WITH_CUDA
    return detail::roi_align_backward_cuda(g, r, input_sizes, opt);
#else
    INSTSEG_CHECK(false, "roi_align: instseg was built without CUDA kernels");
#endif
  }
  return detail::roi_align_backward_cpu(g, r, input_sizes, opt);
}

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& opt) {
  // roi_align_forward (inside the Function) checks the inputs.
  return RoIAlignFunction::apply(input, rois.detach(), opt.output_h, opt.output_w,
                                 opt.spatial_scale, opt.sampling_ratio, opt.aligned)[0];
}

}  // namespace instseg
