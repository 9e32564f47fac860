// Bit-exact emulation of OpenCV 4.6 `cv::resize(..., INTER_LINEAR)` on 8-bit
// images, so that the LibTorch-only core can reproduce mmcv's `imrescale`
// (used by SOLOv2's mask targets) without linking OpenCV.
//
// cv2 does not compute bilinear weights in floating point for CV_8U: it uses
// 11-bit fixed-point coefficients (INTER_RESIZE_COEF_BITS), an exact integer
// horizontal pass, and a vertical pass that drops 4 + 16 low bits before its
// rounding shift (its SIMD arithmetic, also used for the tail). Exact 2x downscales are
// redirected to the "area fast" path (2x2 average with rounding). All of this
// is reproduced here; tests/ops/test_resize.cpp checks it against OpenCV.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace instseg {

// src: uint8 [H,W] or [H,W,C] (cv2's interleaved layout), any device.
// Returns uint8 [out_h,out_w] or [out_h,out_w,C] on src's device, equal to
// cv2.resize(src, (out_w, out_h), interpolation=cv2.INTER_LINEAR).
at::Tensor cv_resize_bilinear_u8(const at::Tensor& src, int64_t out_h, int64_t out_w);

// A stack of single-channel planes, e.g. binary masks: src uint8 [N,H,W] ->
// [N,out_h,out_w], each plane resized as cv_resize_bilinear_u8 does.
at::Tensor cv_resize_bilinear_u8_stack(const at::Tensor& src, int64_t out_h, int64_t out_w);

// mmcv.rescale_size for a keep-ratio Resize(scale=(scale_w, scale_h)): the
// output size of a w x h image scaled by min(long / max(h, w), short / min(h, w))
// with long, short = max / min of the scale pair, rounded as int(x + 0.5).
// Used by both the OpenCV pipeline (io/transforms) and the LibTorch-only
// inference preprocessing (inference/preprocess).
void keep_ratio_size(int64_t w, int64_t h, int64_t scale_w, int64_t scale_h, int64_t* new_w, int64_t* new_h);

// mmcv.imrescale's output size for a scale factor: (int(h*s+0.5), int(w*s+0.5)).
void cv_rescale_size(int64_t h, int64_t w, double scale, int64_t* out_h, int64_t* out_w);

}  // namespace instseg
