// RoIAlign (He et al., Mask R-CNN) with average pooling, as mmcv.ops.RoIAlign
// and torchvision.ops.roi_align compute it.
//
// Split like torchvision's csrc: this header is the interface; the kernels live
// in roi_align_cpu.cpp and roi_align_cuda.cu (compiled only when LibTorch has
// CUDA); roi_align.cpp holds the device switch and the autograd Function.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace instseg {

struct RoIAlignOptions {
  int64_t output_h = 7;
  int64_t output_w = 7;
  // Multiplies RoI coordinates into feature-map pixels (1 / stride).
  double spatial_scale = 1.0;
  // Bilinear samples per bin side; <= 0 means adaptive: ceil(roi_size / output_size).
  int64_t sampling_ratio = 0;
  // true: shift the scaled box by -0.5 px so that sample points align with pixel
  // centres (mmcv default, used by mmdetection). false: legacy Detectron
  // behaviour with RoI sides clamped to >= 1.
  bool aligned = true;
};

// input [N,C,H,W] float (32/64); rois [K,5] (batch_index, x1, y1, x2, y2) in
// input-image pixels, same dtype and device as input. Returns [K,C,oh,ow].
// Differentiable w.r.t. input (not w.r.t. rois, as in mmcv).
at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& opt);

// Raw kernels without autograd (the Function calls these).
at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois,
                             const RoIAlignOptions& opt);
// grad_output [K,C,oh,ow] -> grad_input [N,C,H,W] (N,C,H,W given by input_sizes).
at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              at::IntArrayRef input_sizes, const RoIAlignOptions& opt);

namespace detail {
// Per-device kernels; inputs already checked and contiguous.
at::Tensor roi_align_forward_cpu(const at::Tensor& input, const at::Tensor& rois,
                                 const RoIAlignOptions& opt);
at::Tensor roi_align_backward_cpu(const at::Tensor& grad_output, const at::Tensor& rois,
                                  at::IntArrayRef input_sizes, const RoIAlignOptions& opt);
#ifdef INSTSEG_WITH_CUDA
at::Tensor roi_align_forward_cuda(const at::Tensor& input, const at::Tensor& rois,
                                  const RoIAlignOptions& opt);
at::Tensor roi_align_backward_cuda(const at::Tensor& grad_output, const at::Tensor& rois,
                                   at::IntArrayRef input_sizes, const RoIAlignOptions& opt);
#endif
}  // namespace detail

}  // namespace instseg
