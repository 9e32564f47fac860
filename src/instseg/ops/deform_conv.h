// Deformable convolution: DCNv2 (modulated, mmcv.ops.ModulatedDeformConv2d) and
// DCNv1 (mmcv.ops.DeformConv2d, offsets only), with mmcv's numerics.
//
// Each kernel tap k = i*kw + j of output pixel (oy, ox) samples the input at
//   y = oy*stride_h - pad_h + i*dilation_h + offset[2k]     (dy first,
//   x = ox*stride_w - pad_w + j*dilation_w + offset[2k+1]    then dx)
// by bilinear interpolation with ZERO outside the image (mmcv's
// dmcn_im2col_bilinear: a sample with y <= -1, y >= H, x <= -1 or x >= W is 0,
// and a corner outside the image contributes 0), multiplies it by mask[k]
// (DCNv2; 1 for DCNv1), and the weights then act as in a grouped convolution.
// torchvision.ops.deform_conv2d uses the same layout and sampling rule.
//
// Split like torchvision's csrc: this header is the interface; the kernels live
// in deform_conv_cpu.cpp (im2col + GEMM) and deform_conv_cuda.cu (compiled only
// when LibTorch has CUDA); deform_conv.cpp holds the checks, the device switch
// and the autograd Function. deform_conv_sampling.h is the per-sample rule shared
// by the CUDA kernels and the tests' scalar reference.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace instseg {

struct DeformConvOptions {
  std::array<int64_t, 2> stride{1, 1};    // (h, w)
  std::array<int64_t, 2> padding{0, 0};   // (h, w), zeros
  std::array<int64_t, 2> dilation{1, 1};  // (h, w)
  // Convolution groups: weight is [Cout, C/groups, kh, kw].
  int64_t groups = 1;
  // Deformable groups: channel block d (C/deform_groups channels) uses offset
  // channels [d*2*kh*kw, (d+1)*2*kh*kw) and mask channels [d*kh*kw, (d+1)*kh*kw).
  int64_t deform_groups = 1;
};

// DCNv2, differentiable w.r.t. every tensor argument.
//   input  [B, C, H, W]
//   offset [B, 2*deform_groups*kh*kw, Ho, Wo]   per tap: dy, dx
//   mask   [B, deform_groups*kh*kw, Ho, Wo]     modulation (already sigmoided)
//   weight [Cout, C/groups, kh, kw]
//   bias   [Cout] or undefined
// -> [B, Cout, Ho, Wo], Ho = (H + 2*pad_h - (dil_h*(kh-1)+1)) / stride_h + 1 (same for Wo).
// float32/float64; half/bfloat16 inputs (CPU autocast) are computed in float32
// and the result is float32.
at::Tensor modulated_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                   const at::Tensor& mask, const at::Tensor& weight,
                                   const at::Tensor& bias, const DeformConvOptions& opt);

// DCNv1 (mmcv DeformConv2d): the same op without a mask (every tap weighted
// by exactly 1) and without a bias.
at::Tensor deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                         const at::Tensor& weight, const DeformConvOptions& opt);

// Raw kernels without autograd (the Function calls these). An undefined mask
// means DCNv1 (no modulation); an undefined bias means none.
at::Tensor deform_conv2d_forward(const at::Tensor& input, const at::Tensor& offset,
                                 const at::Tensor& mask, const at::Tensor& weight,
                                 const at::Tensor& bias, const DeformConvOptions& opt);

// Gradients of the forward above; a gradient not asked for (or of an undefined
// mask / bias) is returned undefined.
struct DeformConvGrads {
  at::Tensor input, offset, mask, weight, bias;
};
struct DeformConvGradMask {
  bool input = true;
  bool offset_mask = true;  // offset and (when defined) mask
  bool weight = true;
  bool bias = true;
};
DeformConvGrads deform_conv2d_backward(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& offset, const at::Tensor& mask,
                                       const at::Tensor& weight, bool with_bias,
                                       const DeformConvOptions& opt,
                                       const DeformConvGradMask& need = {});

namespace detail {
struct DeformGeom;  // deform_conv_sampling.h
// The op's geometry for the kernels (inputs already checked).
DeformGeom deform_geom(const at::Tensor& input, const at::Tensor& offset,
                       const at::Tensor& weight, const DeformConvOptions& opt);

// Per-device kernels; inputs already checked, contiguous and of one dtype.
at::Tensor deform_conv2d_forward_cpu(const at::Tensor& input, const at::Tensor& offset,
                                     const at::Tensor& mask, const at::Tensor& weight,
                                     const at::Tensor& bias, const DeformConvOptions& opt);
DeformConvGrads deform_conv2d_backward_cpu(const at::Tensor& grad_output,
                                           const at::Tensor& input, const at::Tensor& offset,
                                           const at::Tensor& mask, const at::Tensor& weight,
                                           bool with_bias, const DeformConvOptions& opt,
                                           const DeformConvGradMask& need);
#ifdef INSTSEG_WITH_CUDA
at::Tensor deform_conv2d_forward_cuda(const at::Tensor& input, const at::Tensor& offset,
                                      const at::Tensor& mask, const at::Tensor& weight,
                                      const at::Tensor& bias, const DeformConvOptions& opt);
DeformConvGrads deform_conv2d_backward_cuda(const at::Tensor& grad_output,
                                            const at::Tensor& input, const at::Tensor& offset,
                                            const at::Tensor& mask, const at::Tensor& weight,
                                            bool with_bias, const DeformConvOptions& opt,
                                            const DeformConvGradMask& need);
#endif
}  // namespace detail

}  // namespace instseg
