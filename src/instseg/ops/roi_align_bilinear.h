// Bilinear sampling rule shared by the CPU and CUDA RoIAlign kernels
// (the Detectron / torchvision / mmcv rule, restated).
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define INSTSEG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define INSTSEG_HOST_DEVICE inline
#endif

namespace instseg::detail {

// One bilinear sample at (y, x) in a height x width map: the four neighbour
// offsets (y*width + x) and weights. Returns false (all weights 0) for points
// more than one pixel outside the map; points in [-1, 0] clamp to the border,
// as do points past the last row/column.
template <typename T>
struct BilinearTap {
  int p1, p2, p3, p4;
  T w1, w2, w3, w4;
};

template <typename T>
INSTSEG_HOST_DEVICE bool bilinear_tap(int height, int width, T y, T x, BilinearTap<T>& t) {
  if (y < T(-1.0) || y > T(height) || x < T(-1.0) || x > T(width)) {
    t.p1 = t.p2 = t.p3 = t.p4 = 0;
    t.w1 = t.w2 = t.w3 = t.w4 = T(0);
    return false;
  }
  if (y <= T(0)) y = T(0);
  if (x <= T(0)) x = T(0);
  int y_low = static_cast<int>(y);
  int x_low = static_cast<int>(x);
  int y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<T>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<T>(x_low);
  } else {
    x_high = x_low + 1;
  }
  T ly = y - static_cast<T>(y_low);
  T lx = x - static_cast<T>(x_low);
  T hy = T(1.) - ly, hx = T(1.) - lx;
  t.p1 = y_low * width + x_low;
  t.p2 = y_low * width + x_high;
  t.p3 = y_high * width + x_low;
  t.p4 = y_high * width + x_high;
  t.w1 = hy * hx;
  t.w2 = hy * lx;
  t.w3 = ly * hx;
  t.w4 = ly * lx;
  return true;
}

// Geometry of one RoI in feature-map pixels.
template <typename T>
struct RoIGeometry {
  int batch;
  T start_h, start_w, bin_h, bin_w;
  int grid_h, grid_w;
  T count;
};

template <typename T>
INSTSEG_HOST_DEVICE RoIGeometry<T> roi_geometry(const T* roi, double spatial_scale, bool aligned,
                                                int pooled_h, int pooled_w, int sampling_ratio) {
  RoIGeometry<T> g;
  g.batch = static_cast<int>(roi[0]);
  // aligned: pixel i covers [i, i+1) so its centre is i + 0.5; shifting by
  // -0.5 puts sample points on the same grid as the feature values.
  T offset = aligned ? T(0.5) : T(0.0);
  T start_w = roi[1] * spatial_scale - offset;
  T start_h = roi[2] * spatial_scale - offset;
  T end_w = roi[3] * spatial_scale - offset;
  T end_h = roi[4] * spatial_scale - offset;
  T roi_w = end_w - start_w;
  T roi_h = end_h - start_h;
  if (!aligned) {
    roi_w = roi_w > T(1.) ? roi_w : T(1.);
    roi_h = roi_h > T(1.) ? roi_h : T(1.);
  }
  g.start_h = start_h;
  g.start_w = start_w;
  g.bin_h = roi_h / static_cast<T>(pooled_h);
  g.bin_w = roi_w / static_cast<T>(pooled_w);
  // No rounding of the box: that is the point of RoIAlign.
#if defined(__CUDACC__)
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(ceil(roi_h / pooled_h));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(ceil(roi_w / pooled_w));
#else
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(std::ceil(roi_h / pooled_h));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(std::ceil(roi_w / pooled_w));
#endif
  int n = g.grid_h * g.grid_w;
  g.count = static_cast<T>(n > 1 ? n : 1);
  return g;
}

}  // namespace instseg::detail
