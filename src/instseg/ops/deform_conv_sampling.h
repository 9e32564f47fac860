// The per-sample rule of deformable convolution (mmcv's dmcn_im2col_bilinear,
// dmcn_get_gradient_weight and dmcn_get_coordinate_weight, restated), for one
// sample point of one channel plane. The CUDA kernels are loops around these
// functions; the CPU kernel computes the same numbers with a zero-padded plane
// instead of per-corner bounds checks, and the tests' scalar reference calls
// these functions, so the CUDA logic is exercised on machines without a GPU.
#pragma once

#include <cmath>

#ifndef INSTSEG_HOST_DEVICE
#if defined(__CUDACC__)
#define INSTSEG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define INSTSEG_HOST_DEVICE inline
#endif
#endif

namespace instseg::detail {

#if defined(__CUDACC__)
INSTSEG_HOST_DEVICE float deform_floor(float v) { return ::floorf(v); }
INSTSEG_HOST_DEVICE double deform_floor(double v) { return ::floor(v); }
#else
INSTSEG_HOST_DEVICE float deform_floor(float v) { return std::floor(v); }
INSTSEG_HOST_DEVICE double deform_floor(double v) { return std::floor(v); }
#endif

// A sample point (y, x) in a height x width plane.
template <typename T>
struct DeformSample {
  bool inside;  // -1 < y < height and -1 < x < width; otherwise the sample is 0
  int h_low, w_low;  // floor(y), floor(x) (in [-1, size-1] when inside)
  T lh, lw;          // y - h_low, x - w_low, in [0, 1)
};

template <typename T>
INSTSEG_HOST_DEVICE DeformSample<T> deform_sample(T y, T x, int height, int width) {
  DeformSample<T> s;
  // The strict comparisons are mmcv's: y == -1 or y == height is outside.
  s.inside = y > T(-1) && x > T(-1) && y < T(height) && x < T(width);
  if (!s.inside) {
    s.h_low = s.w_low = 0;
    s.lh = s.lw = T(0);
    return s;
  }
  // floor in T: mmcv's CPU/CUDA kernels call floorf, which for float64 first
  // rounds to float32; torchvision (and this) floor in the input's precision.
  const T fy = deform_floor(y), fx = deform_floor(x);
  s.h_low = static_cast<int>(fy);
  s.w_low = static_cast<int>(fx);
  s.lh = y - fy;
  s.lw = x - fx;
  return s;
}

// Geometry of one deformable convolution in plain ints (device code cannot
// use DeformConvOptions' std::arrays).
struct DeformGeom {
  int channels, height, width;
  int kh, kw, taps;         // taps = kh * kw
  int out_h, out_w, pixels;  // pixels = out_h * out_w
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int deform_groups, channels_per_dg;
};

// The sample of kernel tap k for output pixel p of one image; offset_b is that
// image's offset [deform_groups*2*taps, pixels], dg the deform group.
template <typename T>
INSTSEG_HOST_DEVICE DeformSample<T> deform_tap_sample(const DeformGeom& g, const T* offset_b,
                                                      int dg, int k, int p) {
  const int oy = p / g.out_w, ox = p % g.out_w;
  const int i = k / g.kw, j = k % g.kw;
  const T* dy = offset_b + (static_cast<long long>(dg) * 2 * g.taps + 2 * k) * g.pixels;
  // mmcv: the integer part first (h_in + i * dilation_h), then + offset.
  const T y = static_cast<T>(oy * g.stride_h - g.pad_h + i * g.dil_h) + dy[p];
  const T x = static_cast<T>(ox * g.stride_w - g.pad_w + j * g.dil_w) + dy[g.pixels + p];
  return deform_sample(y, x, g.height, g.width);
}

// The four corners of an inside sample: plane offsets, bilinear weights, and
// whether each corner lies in the plane (corners outside contribute 0).
template <typename T>
struct DeformCorners {
  int p[4];
  T w[4];
  bool valid[4];
};

template <typename T>
INSTSEG_HOST_DEVICE DeformCorners<T> deform_corners(const DeformSample<T>& s, int height,
                                                    int width) {
  DeformCorners<T> c;
  const int h_high = s.h_low + 1, w_high = s.w_low + 1;
  const T hh = T(1) - s.lh, hw = T(1) - s.lw;
  c.p[0] = s.h_low * width + s.w_low;
  c.p[1] = s.h_low * width + w_high;
  c.p[2] = h_high * width + s.w_low;
  c.p[3] = h_high * width + w_high;
  c.w[0] = hh * hw;
  c.w[1] = hh * s.lw;
  c.w[2] = s.lh * hw;
  c.w[3] = s.lh * s.lw;
  c.valid[0] = s.h_low >= 0 && s.w_low >= 0;
  c.valid[1] = s.h_low >= 0 && w_high <= width - 1;
  c.valid[2] = h_high <= height - 1 && s.w_low >= 0;
  c.valid[3] = h_high <= height - 1 && w_high <= width - 1;
  return c;
}

// Bilinear value of the plane at the sample, 0 outside (mmcv's order of terms).
template <typename T>
INSTSEG_HOST_DEVICE T deform_bilinear(const T* plane, int height, int width,
                                      const DeformSample<T>& s) {
  if (!s.inside) return T(0);
  const DeformCorners<T> c = deform_corners(s, height, width);
  T v[4];
  for (int i = 0; i < 4; ++i) v[i] = c.valid[i] ? plane[c.p[i]] : T(0);
  return c.w[0] * v[0] + c.w[1] * v[1] + c.w[2] * v[2] + c.w[3] * v[3];
}

// d(bilinear value)/dy (dir 0) or d/dx (dir 1) at the sample: the derivative
// inside the cell [h_low, h_low+1] x [w_low, w_low+1] (so one-sided at integer
// coordinates), and 0 for samples outside, including exactly y == -1 or x == -1
// (mmcv; torchvision's kernel gives the one-sided derivative there instead).
template <typename T>
INSTSEG_HOST_DEVICE T deform_coordinate_weight(const T* plane, int height, int width,
                                               const DeformSample<T>& s, int dir) {
  if (!s.inside) return T(0);
  const DeformCorners<T> c = deform_corners(s, height, width);
  T v[4];
  for (int i = 0; i < 4; ++i) v[i] = c.valid[i] ? plane[c.p[i]] : T(0);
  const T hh = T(1) - s.lh, hw = T(1) - s.lw;
  if (dir == 0) return -hw * v[0] - s.lw * v[1] + hw * v[2] + s.lw * v[3];
  return -hh * v[0] + hh * v[1] - s.lh * v[2] + s.lh * v[3];
}

}  // namespace instseg::detail
