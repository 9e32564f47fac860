#include "instseg/ops/resize.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

namespace instseg {
namespace {

constexpr int kCoefBits = 11;               // INTER_RESIZE_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;  // INTER_RESIZE_COEF_SCALE

// cvFloor on a float.
inline int floor_f(float v) {
  int i = static_cast<int>(v);
  return i - (static_cast<float>(i) > v);
}

// saturate_cast<short>(float): round half to even (cvRound), then clamp.
inline int16_t round_to_short(float v) {
  float r = std::nearbyint(v);
  r = std::min(32767.f, std::max(-32768.f, r));
  return static_cast<int16_t>(r);
}

inline uint8_t sat_u8(int v) { return static_cast<uint8_t>(std::min(255, std::max(0, v))); }

// The exact 2x downscale: cv2 switches INTER_LINEAR to its fast area path.
void area_fast_2x(const uint8_t* src, int sh, int sw, int cn, uint8_t* dst, int dh, int dw) {
  const int sstep = sw * cn;
  for (int dy = 0; dy < dh; ++dy) {
    const uint8_t* r0 = src + (2 * dy) * sstep;
    const uint8_t* r1 = r0 + sstep;
    uint8_t* d = dst + dy * dw * cn;
    for (int dx = 0; dx < dw; ++dx)
      for (int c = 0; c < cn; ++c) {
        int o = 2 * dx * cn + c;
        d[dx * cn + c] = static_cast<uint8_t>((r0[o] + r0[o + cn] + r1[o] + r1[o + cn] + 2) >> 2);
      }
  }
}

// cv::resize's generic fixed-point bilinear path for CV_8U.
void linear_fixpt(const uint8_t* src, int sh, int sw, int cn, uint8_t* dst, int dh, int dw,
                  double scale_x, double scale_y) {
  // 1. Horizontal taps: source column and (a0, a1) per output column.
  std::vector<int> xofs(dw);
  std::vector<int> alpha(2 * dw);
  for (int dx = 0; dx < dw; ++dx) {
    float fx = static_cast<float>((dx + 0.5) * scale_x - 0.5);
    int sx = floor_f(fx);
    fx -= static_cast<float>(sx);
    if (sx < 0) fx = 0.f, sx = 0;
    if (sx >= sw - 1) fx = 0.f, sx = sw - 1;  // right border: single tap
    xofs[dx] = sx;
    alpha[2 * dx] = round_to_short((1.f - fx) * kCoefScale);
    alpha[2 * dx + 1] = round_to_short(fx * kCoefScale);
  }
  // 2. Vertical taps: the weights are NOT clamped at the borders (only the rows are).
  std::vector<int> yofs(dh);
  std::vector<int> beta(2 * dh);
  for (int dy = 0; dy < dh; ++dy) {
    float fy = static_cast<float>((dy + 0.5) * scale_y - 0.5);
    int sy = floor_f(fy);
    fy -= static_cast<float>(sy);
    yofs[dy] = sy;
    beta[2 * dy] = round_to_short((1.f - fy) * kCoefScale);
    beta[2 * dy + 1] = round_to_short(fy * kCoefScale);
  }
  const int width = dw * cn;  // the vertical pass runs over interleaved elements
  auto hresize = [&](int row, std::vector<int>& out) {
    const uint8_t* s = src + static_cast<int64_t>(row) * sw * cn;
    for (int dx = 0; dx < dw; ++dx) {
      const int sx = xofs[dx];
      const int a0 = alpha[2 * dx], a1 = alpha[2 * dx + 1];
      for (int c = 0; c < cn; ++c) {
        int v = s[sx * cn + c] * a0;
        if (sx + 1 < sw) v += s[(sx + 1) * cn + c] * a1;
        out[dx * cn + c] = v;
      }
    }
  };
  std::vector<int> buf0(width), buf1(width);
  int row0 = -1, row1 = -1;  // rows currently held in buf0 / buf1
  for (int dy = 0; dy < dh; ++dy) {
    const int r0 = std::min(std::max(yofs[dy], 0), sh - 1);
    const int r1 = std::min(std::max(yofs[dy] + 1, 0), sh - 1);
    if (row0 != r0) {
      if (row1 == r0) {
        std::swap(buf0, buf1);
        std::swap(row0, row1);
      } else {
        hresize(r0, buf0);
        row0 = r0;
      }
    }
    if (row1 != r1) {
      hresize(r1, buf1);
      row1 = r1;
    }
    const int b0 = beta[2 * dy], b1 = beta[2 * dy + 1];
    uint8_t* d = dst + static_cast<int64_t>(dy) * width;
    const int* s0 = buf0.data();
    const int* s1 = buf1.data();
    // OpenCV's VResizeLinear specialisation for 8U uses the SIMD arithmetic
    // (v_mul_hi of (S >> 4) by the 11-bit weights, rounding shift by 2) for
    // every element, scalar tail included, not the exact (S0*b0 + S1*b1) >> 22.
    for (int x = 0; x < width; ++x) {
      const int t0 = (b0 * (s0[x] >> 4)) >> 16;
      const int t1 = (b1 * (s1[x] >> 4)) >> 16;
      d[x] = sat_u8((t0 + t1 + 2) >> 2);
    }
  }
}

}  // namespace

void cv_rescale_size(int64_t h, int64_t w, double scale, int64_t* out_h, int64_t* out_w) {
  *out_h = static_cast<int64_t>(static_cast<double>(h) * scale + 0.5);
  *out_w = static_cast<int64_t>(static_cast<double>(w) * scale + 0.5);
}

at::Tensor cv_resize_bilinear_u8(const at::Tensor& src_in, int64_t out_h, int64_t out_w) {
  INSTSEG_CHECK(src_in.scalar_type() == at::kByte, "cv_resize_bilinear_u8: expected uint8, got ",
                src_in.scalar_type());
  INSTSEG_CHECK(src_in.dim() == 2 || src_in.dim() == 3,
                "cv_resize_bilinear_u8: expected [H,W] or [H,W,C], got ", src_in.sizes());
  INSTSEG_CHECK(out_h > 0 && out_w > 0, "cv_resize_bilinear_u8: bad output size ", out_h, "x", out_w);
  const int sh = static_cast<int>(src_in.size(0)), sw = static_cast<int>(src_in.size(1));
  const int cn = src_in.dim() == 3 ? static_cast<int>(src_in.size(2)) : 1;
  INSTSEG_CHECK(sh > 0 && sw > 0 && cn > 0, "cv_resize_bilinear_u8: empty input ", src_in.sizes());
  at::Tensor src = src_in.to(at::kCPU).contiguous();
  std::vector<int64_t> shape{out_h, out_w};
  if (src_in.dim() == 3) shape.push_back(cn);
  at::Tensor dst = at::empty(shape, src.options());
  const int dh = static_cast<int>(out_h), dw = static_cast<int>(out_w);
  if (dh == sh && dw == sw) {
    dst.copy_(src);
  } else {
    // Same scale arithmetic as cv::resize with an explicit dsize.
    const double scale_x = 1. / (static_cast<double>(dw) / sw);
    const double scale_y = 1. / (static_cast<double>(dh) / sh);
    const int iscale_x = static_cast<int>(std::nearbyint(scale_x));
    const int iscale_y = static_cast<int>(std::nearbyint(scale_y));
    const bool area_fast = std::abs(scale_x - iscale_x) < DBL_EPSILON &&
                           std::abs(scale_y - iscale_y) < DBL_EPSILON;
    if (area_fast && iscale_x == 2 && iscale_y == 2) {
      area_fast_2x(src.data_ptr<uint8_t>(), sh, sw, cn, dst.data_ptr<uint8_t>(), dh, dw);
    } else {
      linear_fixpt(src.data_ptr<uint8_t>(), sh, sw, cn, dst.data_ptr<uint8_t>(), dh, dw, scale_x,
                   scale_y);
    }
  }
  return dst.to(src_in.device());
}

at::Tensor cv_resize_bilinear_u8_stack(const at::Tensor& src, int64_t out_h, int64_t out_w) {
  INSTSEG_CHECK(src.dim() == 3, "cv_resize_bilinear_u8_stack: expected [N,H,W], got ", src.sizes());
  at::Tensor cpu = src.to(at::kCPU);
  at::Tensor out = at::empty({src.size(0), out_h, out_w}, cpu.options());
  for (int64_t i = 0; i < src.size(0); ++i) out[i].copy_(cv_resize_bilinear_u8(cpu[i], out_h, out_w));
  return out.to(src.device());
}

void keep_ratio_size(int64_t w, int64_t h, int64_t scale_w, int64_t scale_h, int64_t* new_w, int64_t* new_h) {
  INSTSEG_CHECK(w > 0 && h > 0, "rescale_size: empty image ", w, "x", h);
  // Python floats are doubles: the same expression gives the same rounding.
  const double long_edge = static_cast<double>(std::max(scale_w, scale_h));
  const double short_edge = static_cast<double>(std::min(scale_w, scale_h));
  const double factor = std::min(long_edge / static_cast<double>(std::max(h, w)),
                                 short_edge / static_cast<double>(std::min(h, w)));
  // int(x * factor + 0.5) as mmcv's _scale_size, but at least 1 px: for a
  // 1 x 4000 image mmcv computes a width of int(0.33 + 0.5) = 0 and cv2.resize
  // then fails; every size mmcv can produce is unchanged.
  *new_w = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(w) * factor + 0.5));
  *new_h = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(h) * factor + 0.5));
}

}  // namespace instseg
