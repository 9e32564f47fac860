// Scalar reference of deformable convolution for the tests: plain loops over
// (image, output channel, pixel, input channel, tap) that call the per-sample
// rule of src/instseg/ops/deform_conv_sampling.h, the same functions the CUDA
// kernels call. Checked against torchvision; the fast CPU kernel (im2col +
// GEMM, zero-padded planes) is checked against it on larger shapes.
#pragma once
#include "instseg/ops/deform_conv.h"
#include "instseg/ops/deform_conv_sampling.h"

#include <ATen/ATen.h>

namespace instseg::test {

inline detail::DeformGeom reference_geom(const at::Tensor& input, const at::Tensor& offset,
                                         const at::Tensor& weight, const DeformConvOptions& o) {
  return detail::deform_geom(input, offset, weight, o);
}

// All tensors float64 and contiguous; mask / bias may be undefined.
inline at::Tensor reference_forward(const at::Tensor& input, const at::Tensor& offset,
                                    const at::Tensor& mask, const at::Tensor& weight,
                                    const at::Tensor& bias, const DeformConvOptions& o) {
  using detail::deform_bilinear;
  using detail::deform_tap_sample;
  const auto g = reference_geom(input, offset, weight, o);
  const int64_t B = input.size(0), C = input.size(1), cout = weight.size(0);
  const int64_t cin_g = C / o.groups, cout_g = cout / o.groups;
  auto out = at::zeros({B, cout, g.out_h, g.out_w}, input.options());
  auto in_a = input.accessor<double, 4>();
  const double* w = weight.data_ptr<double>();
  double* y = out.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b) {
    const double* off_b = offset[b].data_ptr<double>();
    const double* m_b = mask.defined() ? mask[b].data_ptr<double>() : nullptr;
    for (int64_t co = 0; co < cout; ++co) {
      const int64_t grp = co / cout_g;
      for (int p = 0; p < g.pixels; ++p) {
        double acc = 0;
        for (int64_t ci = 0; ci < cin_g; ++ci) {
          const int64_t c = grp * cin_g + ci;
          const int dg = static_cast<int>(c / g.channels_per_dg);
          const double* plane = &in_a[b][c][0][0];
          for (int k = 0; k < g.taps; ++k) {
            const auto s = deform_tap_sample(g, off_b, dg, k, p);
            double v = deform_bilinear(plane, g.height, g.width, s);
            if (m_b) v *= m_b[(dg * g.taps + k) * g.pixels + p];
            acc += w[(co * cin_g + ci) * g.taps + k] * v;
          }
        }
        y[(b * cout + co) * g.pixels + p] = acc + (bias.defined() ? bias[co].item<double>() : 0);
      }
    }
  }
  return out;
}

inline DeformConvGrads reference_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                          const at::Tensor& offset, const at::Tensor& mask,
                                          const at::Tensor& weight, bool with_bias,
                                          const DeformConvOptions& o) {
  using detail::deform_bilinear;
  using detail::deform_coordinate_weight;
  using detail::deform_corners;
  using detail::deform_tap_sample;
  const auto g = reference_geom(input, offset, weight, o);
  const int64_t B = input.size(0), C = input.size(1), cout = weight.size(0);
  const int64_t cin_g = C / o.groups, cout_g = cout / o.groups;
  DeformConvGrads r;
  r.input = at::zeros_like(input);
  r.offset = at::zeros_like(offset);
  if (mask.defined()) r.mask = at::zeros_like(mask);
  r.weight = at::zeros_like(weight);
  if (with_bias) r.bias = grad_out.sum({0, 2, 3});
  const double* w = weight.data_ptr<double>();
  double* gw = r.weight.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b) {
    const double* off_b = offset[b].data_ptr<double>();
    const double* m_b = mask.defined() ? mask[b].data_ptr<double>() : nullptr;
    const double* go = grad_out[b].data_ptr<double>();
    double* gi = r.input[b].data_ptr<double>();
    double* goff = r.offset[b].data_ptr<double>();
    double* gm = mask.defined() ? r.mask[b].data_ptr<double>() : nullptr;
    for (int64_t c = 0; c < C; ++c) {
      const int64_t grp = c / cin_g, ci = c % cin_g;
      const int dg = static_cast<int>(c / g.channels_per_dg);
      const double* plane = input[b][c].data_ptr<double>();
      for (int k = 0; k < g.taps; ++k) {
        for (int p = 0; p < g.pixels; ++p) {
          // grad of this (channel, tap, pixel) column entry: sum over outputs.
          double gcol = 0;
          for (int64_t co = grp * cout_g; co < (grp + 1) * cout_g; ++co)
            gcol += w[(co * cin_g + ci) * g.taps + k] * go[co * g.pixels + p];
          const auto s = deform_tap_sample(g, off_b, dg, k, p);
          const double m = m_b ? m_b[(dg * g.taps + k) * g.pixels + p] : 1.0;
          const double v = deform_bilinear(plane, g.height, g.width, s);
          for (int64_t co = grp * cout_g; co < (grp + 1) * cout_g; ++co)
            gw[(co * cin_g + ci) * g.taps + k] += go[co * g.pixels + p] * v * m;
          if (gm) gm[(dg * g.taps + k) * g.pixels + p] += gcol * v;
          double* oy = goff + (dg * 2 * g.taps + 2 * k) * g.pixels + p;
          oy[0] += deform_coordinate_weight(plane, g.height, g.width, s, 0) * gcol * m;
          oy[g.pixels] += deform_coordinate_weight(plane, g.height, g.width, s, 1) * gcol * m;
          if (!s.inside) continue;
          const auto cr = deform_corners(s, g.height, g.width);
          for (int i = 0; i < 4; ++i)
            if (cr.valid[i]) gi[c * g.height * g.width + cr.p[i]] += cr.w[i] * gcol * m;
        }
      }
    }
  }
  return r;
}

}  // namespace instseg::test
