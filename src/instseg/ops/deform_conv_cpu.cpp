// CPU deformable convolution, im2col + GEMM. Per image and per chunk of output
// pixels:
//  1. the bilinear taps of every (deform group, kernel tap, pixel) are computed
//     once and shared by all channels of the deform group;
//  2. deformable im2col fills columns [C*kh*kw, n] (threads over rows);
//  3. one GEMM per convolution group: out[g] = W[g] @ columns[g]; the bias is
//     added after the GEMMs, as mmcv does.
// The backward computes grad_columns = W^T @ grad_out, scatters it into the
// input gradient (threads over channels: each thread owns its planes, so no
// atomics and the result is deterministic), reduces it into the offset and
// mask gradients (threads over taps x pixel blocks), and recomputes the columns
// for grad_weight += grad_out @ columns^T.
//
// Sampling reads a zero-padded copy of each image instead of checking the four
// corners: real pixel (h, w) sits at (h + 2, w + 1) of a (H + 3) x (W + 2) plane.
// Rows 1 and H + 2 and columns 0 and W + 1 are the zero border that corners
// at -1 or at H / W read (mmcv's "corner outside -> 0"), and row 0 is an extra
// zero row: samples outside (-1, H) x (-1, W) point at offset 0 with zero
// weights, so their 2x2 corners are all zeros. The values are exactly mmcv's,
// including for non-finite inputs (a corner outside never multiplies an input
// value).
#include "instseg/ops/deform_conv.h"
#include "instseg/ops/deform_conv_sampling.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace instseg::detail {

namespace {

// Elements of one column buffer (16 MB in float32): large enough for efficient
// GEMMs, small enough that SOLOv2's 1/4-scale mask-feature DCN (256*9 rows x
// 67,200 pixels at 1333x800) does not allocate 600 MB at once.
constexpr int64_t kColumnBudget = int64_t(1) << 22;
// Pixels per task of the offset / mask gradient reduction.
constexpr int64_t kCoordBlock = 128;

struct Dims {
  DeformGeom geom;
  int64_t batch, channels, height, width;
  int64_t out_channels, taps, pixels;
  int64_t groups, deform_groups, channels_per_dg;
  int64_t pad_h, pad_w;  // padded plane: height + 3, width + 2
  int64_t chunk;         // pixels per chunk
};

Dims make_dims(const at::Tensor& input, const at::Tensor& offset, const at::Tensor& weight,
               const DeformConvOptions& opt) {
  Dims d;
  d.geom = deform_geom(input, offset, weight, opt);
  d.batch = input.size(0);
  d.channels = input.size(1);
  d.height = input.size(2);
  d.width = input.size(3);
  d.out_channels = weight.size(0);
  d.taps = d.geom.taps;
  d.pixels = d.geom.pixels;
  d.groups = opt.groups;
  d.deform_groups = opt.deform_groups;
  d.channels_per_dg = d.channels / d.deform_groups;
  d.pad_h = d.height + 3;
  d.pad_w = d.width + 2;
  // Equal chunks of at most kColumnBudget / rows pixels (no small tail chunk).
  const int64_t most = std::max<int64_t>(1, kColumnBudget / (d.channels * d.taps));
  const int64_t chunks = (d.pixels + most - 1) / most;
  d.chunk = (d.pixels + chunks - 1) / chunks;
  return d;
}

// Bilinear taps of one chunk, one row per (deform group, kernel tap), struct of
// arrays: base = padded-plane offset of the top-left corner; w0..w3 = corner
// weights (top-left, top-right, bottom-left, bottom-right); lh, lw = fractional
// parts (the backward's coordinate derivatives).
template <typename T>
struct Taps {
  int64_t n = 0;  // pixels per row
  std::vector<int32_t> base;
  std::vector<T> w[4];
  std::vector<T> lh, lw;

  void resize(int64_t rows, int64_t pixels) {
    n = pixels;
    const size_t size = static_cast<size_t>(rows * pixels);
    base.resize(size);
    for (auto& v : w) v.resize(size);
    lh.resize(size);
    lw.resize(size);
  }
};

// offset_b: offset[b] ([dg*2*taps, pixels]); pixels [p0, p0 + n).
template <typename T>
void compute_taps(const Dims& d, const T* offset_b, int64_t p0, int64_t n, Taps<T>& taps) {
  const int64_t rows = d.deform_groups * d.taps;
  taps.resize(rows, n);
  const int64_t pad_w = d.pad_w;
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int dg = static_cast<int>(r / d.taps), k = static_cast<int>(r % d.taps);
      for (int64_t q = 0; q < n; ++q) {
        const DeformSample<T> s =
            deform_tap_sample(d.geom, offset_b, dg, k, static_cast<int>(p0 + q));
        const size_t t = static_cast<size_t>(r * n + q);
        if (!s.inside) {
          taps.base[t] = 0;
          taps.w[0][t] = taps.w[1][t] = taps.w[2][t] = taps.w[3][t] = T(0);
          taps.lh[t] = taps.lw[t] = T(0);
          continue;
        }
        const T hh = T(1) - s.lh, hw = T(1) - s.lw;
        taps.base[t] = static_cast<int32_t>((s.h_low + 2) * pad_w + (s.w_low + 1));
        taps.w[0][t] = hh * hw;
        taps.w[1][t] = hh * s.lw;
        taps.w[2][t] = s.lh * hw;
        taps.w[3][t] = s.lh * s.lw;
        taps.lh[t] = s.lh;
        taps.lw[t] = s.lw;
      }
    }
  });
}

// Zero-padded copy of image b: [C, H + 3, W + 2].
at::Tensor padded_image(const at::Tensor& input, int64_t b, const Dims& d) {
  auto pad = at::zeros({d.channels, d.pad_h, d.pad_w}, input.options());
  pad.narrow(1, 2, d.height).narrow(2, 1, d.width).copy_(input[b]);
  return pad;
}

// columns[(c*taps + k), q] = bilinear(input[b, c], tap (dg(c), k, q)) * mask.
template <typename T, bool kMask>
void im2col(const Dims& d, const T* pad, const Taps<T>& taps, const T* mask_b, int64_t p0,
            T* columns) {
  const int64_t n = taps.n, plane = d.pad_h * d.pad_w, pw = d.pad_w;
  at::parallel_for(0, d.channels * d.taps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r / d.taps, k = r % d.taps;
      const int64_t tr = (c / d.channels_per_dg) * d.taps + k;
      const T* in = pad + c * plane;
      const int32_t* base = taps.base.data() + tr * n;
      const T* w0 = taps.w[0].data() + tr * n;
      const T* w1 = taps.w[1].data() + tr * n;
      const T* w2 = taps.w[2].data() + tr * n;
      const T* w3 = taps.w[3].data() + tr * n;
      T* col = columns + r * n;
      if (kMask) {
        const T* m = mask_b + tr * d.pixels + p0;
        for (int64_t q = 0; q < n; ++q) {
          const T* v = in + base[q];
          col[q] = (w0[q] * v[0] + w1[q] * v[1] + w2[q] * v[pw] + w3[q] * v[pw + 1]) * m[q];
        }
      } else {
        for (int64_t q = 0; q < n; ++q) {
          const T* v = in + base[q];
          col[q] = w0[q] * v[0] + w1[q] * v[1] + w2[q] * v[pw] + w3[q] * v[pw + 1];
        }
      }
    }
  });
}

// grad_pad[c] += scatter of grad_columns[c*taps + k, q] * mask to the 4 corners.
template <typename T, bool kMask>
void col2im(const Dims& d, const T* grad_columns, const Taps<T>& taps, const T* mask_b,
            int64_t p0, T* grad_pad) {
  const int64_t n = taps.n, plane = d.pad_h * d.pad_w, pw = d.pad_w;
  at::parallel_for(0, d.channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      T* g = grad_pad + c * plane;
      for (int64_t k = 0; k < d.taps; ++k) {
        const int64_t tr = (c / d.channels_per_dg) * d.taps + k;
        const int32_t* base = taps.base.data() + tr * n;
        const T* w0 = taps.w[0].data() + tr * n;
        const T* w1 = taps.w[1].data() + tr * n;
        const T* w2 = taps.w[2].data() + tr * n;
        const T* w3 = taps.w[3].data() + tr * n;
        const T* m = kMask ? mask_b + tr * d.pixels + p0 : nullptr;
        const T* gc = grad_columns + (c * d.taps + k) * n;
        for (int64_t q = 0; q < n; ++q) {
          const T t = kMask ? gc[q] * m[q] : gc[q];
          T* v = g + base[q];
          v[0] += w0[q] * t;
          v[1] += w1[q] * t;
          v[pw] += w2[q] * t;
          v[pw + 1] += w3[q] * t;
        }
      }
    }
  });
}

// grad_offset (dy, dx) and grad_mask of the chunk: sums over the channels of each
// deform group, in channel order (as mmcv's col2im_coord).
template <typename T, bool kMask>
void col2im_coord(const Dims& d, const T* pad, const T* grad_columns, const Taps<T>& taps,
                  const T* mask_b, int64_t p0, T* grad_offset_b, T* grad_mask_b) {
  const int64_t n = taps.n, plane = d.pad_h * d.pad_w, pw = d.pad_w;
  const int64_t blocks = (n + kCoordBlock - 1) / kCoordBlock;
  at::parallel_for(0, d.deform_groups * d.taps * blocks, 1, [&](int64_t begin, int64_t end) {
    T gy[kCoordBlock], gx[kCoordBlock], gm[kCoordBlock];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t tr = task / blocks, q0 = (task % blocks) * kCoordBlock;
      const int64_t len = std::min(kCoordBlock, n - q0);
      const int64_t dg = tr / d.taps, k = tr % d.taps;
      const int64_t first = tr * n + q0;
      const int32_t* base = taps.base.data() + first;
      const T* w0 = taps.w[0].data() + first;
      const T* w1 = taps.w[1].data() + first;
      const T* w2 = taps.w[2].data() + first;
      const T* w3 = taps.w[3].data() + first;
      const T* lh = taps.lh.data() + first;
      const T* lw = taps.lw.data() + first;
      const T* m = kMask ? mask_b + tr * d.pixels + p0 + q0 : nullptr;
      std::fill(gy, gy + len, T(0));
      std::fill(gx, gx + len, T(0));
      std::fill(gm, gm + len, T(0));
      for (int64_t c = dg * d.channels_per_dg; c < (dg + 1) * d.channels_per_dg; ++c) {
        const T* in = pad + c * plane;
        const T* gc = grad_columns + (c * d.taps + k) * n + q0;
        for (int64_t q = 0; q < len; ++q) {
          const T* v = in + base[q];
          const T v0 = v[0], v1 = v[1], v2 = v[pw], v3 = v[pw + 1];
          const T hh = T(1) - lh[q], hw = T(1) - lw[q];
          // mmcv's dmcn_get_coordinate_weight, then weight * grad_col * mask.
          const T wy = -hw * v0 - lw[q] * v1 + hw * v2 + lw[q] * v3;
          const T wx = -hh * v0 + hh * v1 - lh[q] * v2 + lh[q] * v3;
          if (kMask) {
            gy[q] += wy * gc[q] * m[q];
            gx[q] += wx * gc[q] * m[q];
            gm[q] += gc[q] * (w0[q] * v0 + w1[q] * v1 + w2[q] * v2 + w3[q] * v3);
          } else {
            gy[q] += wy * gc[q];
            gx[q] += wx * gc[q];
          }
        }
      }
      T* oy = grad_offset_b + (dg * 2 * d.taps + 2 * k) * d.pixels + p0 + q0;
      T* ox = oy + d.pixels;
      std::copy(gy, gy + len, oy);
      std::copy(gx, gx + len, ox);
      if (kMask) std::copy(gm, gm + len, grad_mask_b + tr * d.pixels + p0 + q0);
    }
  });
}

// A contiguous [rows, n] matrix at the start of a [rows, chunk] buffer (n <= chunk).
at::Tensor leading(const at::Tensor& buffer, int64_t n) {
  const int64_t rows = buffer.size(0);
  return buffer.view(-1).narrow(0, 0, rows * n).view({rows, n});
}

// Per-group views: weight [G, Cout/G, C/G*taps], columns rows of group g.
at::Tensor group_weight(const at::Tensor& weight, const Dims& d, int64_t g) {
  return weight.view({d.groups, d.out_channels / d.groups, -1})[g];
}
at::Tensor group_rows(const at::Tensor& columns, const Dims& d, int64_t g) {
  const int64_t rows = d.channels / d.groups * d.taps;
  return columns.narrow(0, g * rows, rows);
}

template <typename T, bool kMask>
void forward_image(const Dims& d, const at::Tensor& input,
                   const at::Tensor& offset, const at::Tensor& mask, const at::Tensor& weight,
                   int64_t b, at::Tensor& columns, Taps<T>& taps, at::Tensor& output) {
  auto pad = padded_image(input, b, d);
  const T* offset_b = offset[b].data_ptr<T>();
  const T* mask_b = kMask ? mask[b].data_ptr<T>() : nullptr;
  auto out_b = output[b].view({d.groups, d.out_channels / d.groups, d.pixels});
  for (int64_t p0 = 0; p0 < d.pixels; p0 += d.chunk) {
    const int64_t n = std::min(d.chunk, d.pixels - p0);
    auto cols = leading(columns, n);
    compute_taps(d, offset_b, p0, n, taps);
    im2col<T, kMask>(d, pad.data_ptr<T>(), taps, mask_b, p0, cols.data_ptr<T>());
    for (int64_t g = 0; g < d.groups; ++g) {
      auto out_g = out_b[g].narrow(1, p0, n);
      at::mm_out(out_g, group_weight(weight, d, g), group_rows(cols, d, g));
    }
  }
}

template <typename T, bool kMask>
at::Tensor forward_typed(const at::Tensor& input, const at::Tensor& offset,
                         const at::Tensor& mask, const at::Tensor& weight, const at::Tensor& bias,
                         const DeformConvOptions& opt) {
  const Dims d = make_dims(input, offset, weight, opt);
  auto output = at::empty({d.batch, d.out_channels, offset.size(2), offset.size(3)}, input.options());
  auto columns = at::empty({d.channels * d.taps, d.chunk}, input.options());
  Taps<T> taps;
  for (int64_t b = 0; b < d.batch; ++b)
    forward_image<T, kMask>(d, input, offset, mask, weight, b, columns, taps, output);
  if (bias.defined()) output.add_(bias.view({1, d.out_channels, 1, 1}));
  return output;
}

template <typename T, bool kMask>
DeformConvGrads backward_typed(const at::Tensor& grad_output, const at::Tensor& input,
                               const at::Tensor& offset, const at::Tensor& mask,
                               const at::Tensor& weight, bool with_bias,
                               const DeformConvOptions& opt, const DeformConvGradMask& need) {
  const Dims d = make_dims(input, offset, weight, opt);
  DeformConvGrads g;
  const bool need_coord = need.offset_mask;
  if (need.input) g.input = at::empty_like(input);
  if (need_coord) {
    g.offset = at::empty_like(offset);
    if (kMask) g.mask = at::empty_like(mask);
  }
  if (need.weight) g.weight = at::zeros_like(weight);
  if (with_bias && need.bias) g.bias = grad_output.sum({0, 2, 3});
  if (!need.input && !need_coord && !need.weight) return g;

  auto grad_columns = at::empty({d.channels * d.taps, d.chunk}, input.options());
  auto columns = need.weight ? at::empty_like(grad_columns) : at::Tensor();
  auto grad_pad = need.input ? at::empty({d.channels, d.pad_h, d.pad_w}, input.options())
                             : at::Tensor();
  Taps<T> taps;
  for (int64_t b = 0; b < d.batch; ++b) {
    auto pad = padded_image(input, b, d);
    const T* offset_b = offset[b].data_ptr<T>();
    const T* mask_b = kMask ? mask[b].data_ptr<T>() : nullptr;
    auto gout_b = grad_output[b].view({d.groups, d.out_channels / d.groups, d.pixels});
    if (need.input) grad_pad.zero_();
    for (int64_t p0 = 0; p0 < d.pixels; p0 += d.chunk) {
      const int64_t n = std::min(d.chunk, d.pixels - p0);
      compute_taps(d, offset_b, p0, n, taps);
      if (need.input || need_coord) {
        auto gcols = leading(grad_columns, n);
        for (int64_t gi = 0; gi < d.groups; ++gi) {
          auto gc = group_rows(gcols, d, gi);
          at::mm_out(gc, group_weight(weight, d, gi).t(), gout_b[gi].narrow(1, p0, n));
        }
        const T* gc = gcols.data_ptr<T>();
        if (need_coord) {
          col2im_coord<T, kMask>(d, pad.data_ptr<T>(), gc, taps, mask_b, p0,
                                 g.offset[b].data_ptr<T>(),
                                 kMask ? g.mask[b].data_ptr<T>() : nullptr);
        }
        if (need.input) col2im<T, kMask>(d, gc, taps, mask_b, p0, grad_pad.data_ptr<T>());
      }
      if (need.weight) {
        auto cols = leading(columns, n);
        im2col<T, kMask>(d, pad.data_ptr<T>(), taps, mask_b, p0, cols.data_ptr<T>());
        auto gw = g.weight.view({d.groups, d.out_channels / d.groups, -1});
        for (int64_t gi = 0; gi < d.groups; ++gi)
          gw[gi].addmm_(gout_b[gi].narrow(1, p0, n), group_rows(cols, d, gi).t());
      }
    }
    if (need.input) g.input[b].copy_(grad_pad.narrow(1, 2, d.height).narrow(2, 1, d.width));
  }
  return g;
}

}  // namespace

at::Tensor deform_conv2d_forward_cpu(const at::Tensor& input, const at::Tensor& offset,
                                     const at::Tensor& mask, const at::Tensor& weight,
                                     const at::Tensor& bias, const DeformConvOptions& opt) {
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "deform_conv2d_forward_cpu", [&] {
    out = mask.defined() ? forward_typed<scalar_t, true>(input, offset, mask, weight, bias, opt)
                         : forward_typed<scalar_t, false>(input, offset, mask, weight, bias, opt);
  });
  return out;
}

DeformConvGrads deform_conv2d_backward_cpu(const at::Tensor& grad_output,
                                           const at::Tensor& input, const at::Tensor& offset,
                                           const at::Tensor& mask, const at::Tensor& weight,
                                           bool with_bias, const DeformConvOptions& opt,
                                           const DeformConvGradMask& need) {
  DeformConvGrads g;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "deform_conv2d_backward_cpu", [&] {
    g = mask.defined() ? backward_typed<scalar_t, true>(grad_output, input, offset, mask, weight,
                                                        with_bias, opt, need)
                       : backward_typed<scalar_t, false>(grad_output, input, offset, mask,
                                                         weight, with_bias, opt, need);
  });
  return g;
}

}  // namespace instseg::detail
