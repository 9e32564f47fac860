// CUDA deformable convolution: the CPU kernel's structure (per image, chunks of
// output pixels, deformable im2col + one GEMM per group through ATen), with one
// thread per (channel, pixel) in im2col, per (channel, tap, pixel) in the input
// gradient's scatter (ATen's gpuAtomicAdd, which also covers double before sm_60: not bit-deterministic, like mmcv's and
// torchvision's CUDA kernels) and per (deform group, tap, pixel) in the offset /
// mask gradient. The per-sample rule is deform_conv_sampling.h, which the
// tests' CPU reference also runs. Compiled only when LibTorch has CUDA.
#include "instseg/ops/deform_conv.h"
#include "instseg/ops/cuda_launch.cuh"
#include "instseg/ops/deform_conv_sampling.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/Atomic.cuh>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

namespace instseg::detail {

namespace {

// Elements of one column buffer (64 MB in float32).
constexpr int64_t kColumnBudget = int64_t(1) << 24;

// columns[(c*taps + k) * n + q] for pixels p0 + q, q < n.
template <typename T, bool kMask>
__global__ void im2col_kernel(int64_t total, DeformGeom g, const T* input_b, const T* offset_b,
                              const T* mask_b, int p0, int n, T* columns) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int q = static_cast<int>(index % n);
    const int c = static_cast<int>(index / n);
    const int dg = c / g.channels_per_dg;
    const int p = p0 + q;
    const T* plane = input_b + static_cast<int64_t>(c) * g.height * g.width;
    for (int k = 0; k < g.taps; ++k) {
      const DeformSample<T> s = deform_tap_sample(g, offset_b, dg, k, p);
      T v = deform_bilinear(plane, g.height, g.width, s);
      if (kMask) v *= mask_b[(static_cast<int64_t>(dg) * g.taps + k) * g.pixels + p];
      columns[(static_cast<int64_t>(c) * g.taps + k) * n + q] = v;
    }
  }
}

// grad_input_b[c] += grad_columns * mask scattered to the sample's corners.
template <typename T, bool kMask>
__global__ void col2im_kernel(int64_t total, DeformGeom g, const T* grad_columns,
                              const T* offset_b, const T* mask_b, int p0, int n, T* grad_input_b) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int q = static_cast<int>(index % n);
    const int64_t row = index / n;  // c * taps + k
    const int k = static_cast<int>(row % g.taps);
    const int c = static_cast<int>(row / g.taps);
    const int dg = c / g.channels_per_dg;
    const int p = p0 + q;
    const DeformSample<T> s = deform_tap_sample(g, offset_b, dg, k, p);
    if (!s.inside) continue;
    T t = grad_columns[index];
    if (kMask) t *= mask_b[(static_cast<int64_t>(dg) * g.taps + k) * g.pixels + p];
    const DeformCorners<T> cr = deform_corners(s, g.height, g.width);
    T* plane = grad_input_b + static_cast<int64_t>(c) * g.height * g.width;
    for (int i = 0; i < 4; ++i)
      if (cr.valid[i]) gpuAtomicAdd(plane + cr.p[i], cr.w[i] * t);
  }
}

// grad_offset (dy, dx) and grad_mask of (deform group, tap, pixel): sums over
// the group's channels in channel order.
template <typename T, bool kMask>
__global__ void col2im_coord_kernel(int64_t total, DeformGeom g, const T* grad_columns,
                                    const T* input_b, const T* offset_b, const T* mask_b, int p0,
                                    int n, T* grad_offset_b, T* grad_mask_b) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int q = static_cast<int>(index % n);
    const int tr = static_cast<int>(index / n);  // dg * taps + k
    const int dg = tr / g.taps, k = tr % g.taps;
    const int p = p0 + q;
    const DeformSample<T> s = deform_tap_sample(g, offset_b, dg, k, p);
    const T m = kMask ? mask_b[static_cast<int64_t>(tr) * g.pixels + p] : T(1);
    T gy = 0, gx = 0, gm = 0;
    for (int c = dg * g.channels_per_dg; c < (dg + 1) * g.channels_per_dg; ++c) {
      const T* plane = input_b + static_cast<int64_t>(c) * g.height * g.width;
      const T gc = grad_columns[(static_cast<int64_t>(c) * g.taps + k) * n + q];
      if (kMask) {
        gy += deform_coordinate_weight(plane, g.height, g.width, s, 0) * gc * m;
        gx += deform_coordinate_weight(plane, g.height, g.width, s, 1) * gc * m;
        gm += gc * deform_bilinear(plane, g.height, g.width, s);
      } else {
        gy += deform_coordinate_weight(plane, g.height, g.width, s, 0) * gc;
        gx += deform_coordinate_weight(plane, g.height, g.width, s, 1) * gc;
      }
    }
    T* oy = grad_offset_b + (static_cast<int64_t>(dg) * 2 * g.taps + 2 * k) * g.pixels + p;
    oy[0] = gy;
    oy[g.pixels] = gx;
    if (kMask) grad_mask_b[static_cast<int64_t>(tr) * g.pixels + p] = gm;
  }
}

struct Plan {
  DeformGeom geom;
  int64_t batch, out_channels, groups, rows, chunk;  // rows = C * taps
};

Plan make_plan(const at::Tensor& input, const at::Tensor& offset, const at::Tensor& weight,
               const DeformConvOptions& opt) {
  Plan pl;
  pl.geom = deform_geom(input, offset, weight, opt);
  pl.batch = input.size(0);
  pl.out_channels = weight.size(0);
  pl.groups = opt.groups;
  pl.rows = static_cast<int64_t>(pl.geom.channels) * pl.geom.taps;
  const int64_t most = std::max<int64_t>(1, kColumnBudget / pl.rows);
  const int64_t chunks = (pl.geom.pixels + most - 1) / most;
  pl.chunk = (pl.geom.pixels + chunks - 1) / chunks;
  return pl;
}

// A contiguous [rows, n] matrix at the start of a [rows, chunk] buffer.
at::Tensor leading(const at::Tensor& buffer, int64_t n) {
  const int64_t rows = buffer.size(0);
  return buffer.view(-1).narrow(0, 0, rows * n).view({rows, n});
}

at::Tensor group_weight(const at::Tensor& weight, const Plan& pl, int64_t g) {
  return weight.view({pl.groups, pl.out_channels / pl.groups, -1})[g];
}
at::Tensor group_rows(const at::Tensor& columns, const Plan& pl, int64_t g) {
  const int64_t rows = pl.rows / pl.groups;
  return columns.narrow(0, g * rows, rows);
}

template <typename T, bool kMask>
void launch_im2col(const Plan& pl, const at::Tensor& input, const at::Tensor& offset,
                   const at::Tensor& mask, int64_t b, int64_t p0, const at::Tensor& cols,
                   cudaStream_t stream) {
  const int64_t n = cols.size(1);
  const int64_t total = pl.geom.channels * n;
  im2col_kernel<T, kMask><<<num_blocks(total), kThreads, 0, stream>>>(
      total, pl.geom, input[b].data_ptr<T>(), offset[b].data_ptr<T>(),
      kMask ? mask[b].data_ptr<T>() : nullptr, static_cast<int>(p0), static_cast<int>(n),
      cols.data_ptr<T>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, bool kMask>
at::Tensor forward_typed(const at::Tensor& input, const at::Tensor& offset,
                         const at::Tensor& mask, const at::Tensor& weight, const at::Tensor& bias,
                         const DeformConvOptions& opt) {
  const Plan pl = make_plan(input, offset, weight, opt);
  const int64_t pixels = pl.geom.pixels;
  auto output = at::empty({pl.batch, pl.out_channels, offset.size(2), offset.size(3)},
                          input.options());
  if (pl.batch == 0) return output;
  auto columns = at::empty({pl.rows, pl.chunk}, input.options());
  auto stream = at::cuda::getCurrentCUDAStream();
  for (int64_t b = 0; b < pl.batch; ++b) {
    auto out_b = output[b].view({pl.groups, pl.out_channels / pl.groups, pixels});
    for (int64_t p0 = 0; p0 < pixels; p0 += pl.chunk) {
      const int64_t n = std::min(pl.chunk, pixels - p0);
      auto cols = leading(columns, n);
      launch_im2col<T, kMask>(pl, input, offset, mask, b, p0, cols, stream);
      for (int64_t g = 0; g < pl.groups; ++g) {
        auto out_g = out_b[g].narrow(1, p0, n);
        at::mm_out(out_g, group_weight(weight, pl, g), group_rows(cols, pl, g));
      }
    }
  }
  if (bias.defined()) output.add_(bias.view({1, pl.out_channels, 1, 1}));
  return output;
}

template <typename T, bool kMask>
DeformConvGrads backward_typed(const at::Tensor& grad_output, const at::Tensor& input,
                               const at::Tensor& offset, const at::Tensor& mask,
                               const at::Tensor& weight, bool with_bias,
                               const DeformConvOptions& opt, const DeformConvGradMask& need) {
  const Plan pl = make_plan(input, offset, weight, opt);
  const int64_t pixels = pl.geom.pixels;
  DeformConvGrads g;
  if (need.input) g.input = at::zeros_like(input);
  if (need.offset_mask) {
    g.offset = at::empty_like(offset);
    if (kMask) g.mask = at::empty_like(mask);
  }
  if (need.weight) g.weight = at::zeros_like(weight);
  if (with_bias && need.bias) g.bias = grad_output.sum({0, 2, 3});
  if (pl.batch == 0 || (!need.input && !need.offset_mask && !need.weight)) return g;

  auto grad_columns = at::empty({pl.rows, pl.chunk}, input.options());
  auto columns = need.weight ? at::empty_like(grad_columns) : at::Tensor();
  auto stream = at::cuda::getCurrentCUDAStream();
  for (int64_t b = 0; b < pl.batch; ++b) {
    auto gout_b = grad_output[b].view({pl.groups, pl.out_channels / pl.groups, pixels});
    const T* offset_b = offset[b].data_ptr<T>();
    const T* mask_b = kMask ? mask[b].data_ptr<T>() : nullptr;
    for (int64_t p0 = 0; p0 < pixels; p0 += pl.chunk) {
      const int64_t n = std::min(pl.chunk, pixels - p0);
      if (need.input || need.offset_mask) {
        auto gcols = leading(grad_columns, n);
        for (int64_t gi = 0; gi < pl.groups; ++gi) {
          auto gc = group_rows(gcols, pl, gi);
          at::mm_out(gc, group_weight(weight, pl, gi).t(), gout_b[gi].narrow(1, p0, n));
        }
        if (need.offset_mask) {
          const int64_t total = static_cast<int64_t>(pl.geom.deform_groups) * pl.geom.taps * n;
          col2im_coord_kernel<T, kMask><<<num_blocks(total), kThreads, 0, stream>>>(
              total, pl.geom, gcols.data_ptr<T>(), input[b].data_ptr<T>(), offset_b, mask_b,
              static_cast<int>(p0), static_cast<int>(n), g.offset[b].data_ptr<T>(),
              kMask ? g.mask[b].data_ptr<T>() : nullptr);
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
        if (need.input) {
          const int64_t total = pl.rows * n;
          col2im_kernel<T, kMask><<<num_blocks(total), kThreads, 0, stream>>>(
              total, pl.geom, gcols.data_ptr<T>(), offset_b, mask_b, static_cast<int>(p0),
              static_cast<int>(n), g.input[b].data_ptr<T>());
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
      }
      if (need.weight) {
        auto cols = leading(columns, n);
        launch_im2col<T, kMask>(pl, input, offset, mask, b, p0, cols, stream);
        auto gw = g.weight.view({pl.groups, pl.out_channels / pl.groups, -1});
        for (int64_t gi = 0; gi < pl.groups; ++gi)
          gw[gi].addmm_(gout_b[gi].narrow(1, p0, n), group_rows(cols, pl, gi).t());
      }
    }
  }
  return g;
}

}  // namespace

at::Tensor deform_conv2d_forward_cuda(const at::Tensor& input, const at::Tensor& offset,
                                      const at::Tensor& mask, const at::Tensor& weight,
                                      const at::Tensor& bias, const DeformConvOptions& opt) {
  c10::cuda::CUDAGuard guard(input.device());
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "deform_conv2d_forward_cuda", [&] {
    out = mask.defined() ? forward_typed<scalar_t, true>(input, offset, mask, weight, bias, opt)
                         : forward_typed<scalar_t, false>(input, offset, mask, weight, bias, opt);
  });
  return out;
}

DeformConvGrads deform_conv2d_backward_cuda(const at::Tensor& grad_output,
                                            const at::Tensor& input, const at::Tensor& offset,
                                            const at::Tensor& mask, const at::Tensor& weight,
                                            bool with_bias, const DeformConvOptions& opt,
                                            const DeformConvGradMask& need) {
  c10::cuda::CUDAGuard guard(input.device());
  DeformConvGrads g;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "deform_conv2d_backward_cuda", [&] {
    g = mask.defined() ? backward_typed<scalar_t, true>(grad_output, input, offset, mask, weight,
                                                        with_bias, opt, need)
                       : backward_typed<scalar_t, false>(grad_output, input, offset, mask,
                                                         weight, with_bias, opt, need);
  });
  return g;
}

}  // namespace instseg::detail
