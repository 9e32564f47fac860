// CUDA RoIAlign kernels (average pooling): one thread per output element in the
// forward; the backward scatters with ATen's gpuAtomicAdd (any dtype and arch; not bit-deterministic, like
// torchvision's and mmcv's CUDA kernels). Compiled only when LibTorch has CUDA.
#include "instseg/ops/roi_align.h"
#include "instseg/ops/cuda_launch.cuh"
#include "instseg/ops/roi_align_bilinear.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/Atomic.cuh>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace instseg::detail {

namespace {

template <typename T>
__global__ void roi_align_forward_kernel(int64_t n, const T* input, const T* rois, T* output,
                                         int channels, int height, int width, int pooled_h,
                                         int pooled_w, double spatial_scale, int sampling_ratio,
                                         bool aligned) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < n;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int pw = index % pooled_w;
    const int ph = (index / pooled_w) % pooled_h;
    const int c = (index / pooled_w / pooled_h) % channels;
    const int64_t k = index / pooled_w / pooled_h / channels;
    const auto g = roi_geometry<T>(rois + k * 5, spatial_scale, aligned, pooled_h, pooled_w,
                                   sampling_ratio);
    const T* in = input + (static_cast<int64_t>(g.batch) * channels + c) * height * width;
    T acc = 0;
    for (int iy = 0; iy < g.grid_h; ++iy) {
      const T y = g.start_h + ph * g.bin_h +
                  static_cast<T>(iy + .5f) * g.bin_h / static_cast<T>(g.grid_h);
      for (int ix = 0; ix < g.grid_w; ++ix) {
        const T x = g.start_w + pw * g.bin_w +
                    static_cast<T>(ix + .5f) * g.bin_w / static_cast<T>(g.grid_w);
        BilinearTap<T> t;
        if (!bilinear_tap(height, width, y, x, t)) continue;
        acc += t.w1 * in[t.p1] + t.w2 * in[t.p2] + t.w3 * in[t.p3] + t.w4 * in[t.p4];
      }
    }
    output[index] = acc / g.count;
  }
}

template <typename T>
__global__ void roi_align_backward_kernel(int64_t n, const T* grad_out, const T* rois, T* grad_in,
                                          int channels, int height, int width, int pooled_h,
                                          int pooled_w, double spatial_scale, int sampling_ratio,
                                          bool aligned) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < n;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int pw = index % pooled_w;
    const int ph = (index / pooled_w) % pooled_h;
    const int c = (index / pooled_w / pooled_h) % channels;
    const int64_t k = index / pooled_w / pooled_h / channels;
    const auto g = roi_geometry<T>(rois + k * 5, spatial_scale, aligned, pooled_h, pooled_w,
                                   sampling_ratio);
    T* gin = grad_in + (static_cast<int64_t>(g.batch) * channels + c) * height * width;
    const T gb = grad_out[index];
    for (int iy = 0; iy < g.grid_h; ++iy) {
      const T y = g.start_h + ph * g.bin_h +
                  static_cast<T>(iy + .5f) * g.bin_h / static_cast<T>(g.grid_h);
      for (int ix = 0; ix < g.grid_w; ++ix) {
        const T x = g.start_w + pw * g.bin_w +
                    static_cast<T>(ix + .5f) * g.bin_w / static_cast<T>(g.grid_w);
        BilinearTap<T> t;
        if (!bilinear_tap(height, width, y, x, t)) continue;
        gpuAtomicAdd(gin + t.p1, gb * t.w1 / g.count);
        gpuAtomicAdd(gin + t.p2, gb * t.w2 / g.count);
        gpuAtomicAdd(gin + t.p3, gb * t.w3 / g.count);
        gpuAtomicAdd(gin + t.p4, gb * t.w4 / g.count);
      }
    }
  }
}

}  // namespace

at::Tensor roi_align_forward_cuda(const at::Tensor& input, const at::Tensor& rois,
                                  const RoIAlignOptions& opt) {
  c10::cuda::CUDAGuard guard(input.device());
  const int64_t num_rois = rois.size(0), channels = input.size(1);
  auto output = at::zeros({num_rois, channels, opt.output_h, opt.output_w}, input.options());
  const int64_t n = output.numel();
  if (n == 0) return output;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward_cuda", [&] {
    roi_align_forward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        n, input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
        static_cast<int>(channels), static_cast<int>(input.size(2)),
        static_cast<int>(input.size(3)), static_cast<int>(opt.output_h),
        static_cast<int>(opt.output_w), opt.spatial_scale, static_cast<int>(opt.sampling_ratio),
        opt.aligned);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

at::Tensor roi_align_backward_cuda(const at::Tensor& grad_output, const at::Tensor& rois,
                                   at::IntArrayRef input_sizes, const RoIAlignOptions& opt) {
  c10::cuda::CUDAGuard guard(grad_output.device());
  auto grad_input = at::zeros(input_sizes, grad_output.options());
  const int64_t n = grad_output.numel();
  if (n == 0 || grad_input.numel() == 0) return grad_input;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "roi_align_backward_cuda", [&] {
    roi_align_backward_kernel<scalar_t><<<num_blocks(n), kThreads, 0, stream>>>(
        n, grad_output.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
        grad_input.data_ptr<scalar_t>(), static_cast<int>(input_sizes[1]),
        static_cast<int>(input_sizes[2]), static_cast<int>(input_sizes[3]),
        static_cast<int>(opt.output_h), static_cast<int>(opt.output_w), opt.spatial_scale,
        static_cast<int>(opt.sampling_ratio), opt.aligned);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad_input;
}

}  // namespace instseg::detail
