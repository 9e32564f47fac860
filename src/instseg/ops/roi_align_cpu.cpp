// CPU RoIAlign kernels (average pooling). The forward computes each output bin's
// sample taps once and reuses them for every channel; the backward scatters in
// parallel over channels, so it needs no atomics and is deterministic.
#include "instseg/ops/roi_align.h"
#include "instseg/ops/roi_align_bilinear.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace instseg::detail {

namespace {

// The taps of every sample point of one RoI, bin by bin (bins in ph, pw order,
// samples in iy, ix order). Out-of-map samples get zero weights.
template <typename T>
void roi_taps(const RoIGeometry<T>& g, int height, int width, int pooled_h, int pooled_w,
              std::vector<BilinearTap<T>>& taps) {
  taps.resize(static_cast<size_t>(pooled_h) * pooled_w * g.grid_h * g.grid_w);
  size_t i = 0;
  for (int ph = 0; ph < pooled_h; ++ph) {
    for (int pw = 0; pw < pooled_w; ++pw) {
      for (int iy = 0; iy < g.grid_h; ++iy) {
        const T y = g.start_h + ph * g.bin_h +
                    static_cast<T>(iy + .5f) * g.bin_h / static_cast<T>(g.grid_h);
        for (int ix = 0; ix < g.grid_w; ++ix) {
          const T x = g.start_w + pw * g.bin_w +
                      static_cast<T>(ix + .5f) * g.bin_w / static_cast<T>(g.grid_w);
          bilinear_tap(height, width, y, x, taps[i++]);
        }
      }
    }
  }
}

template <typename T>
void forward_impl(const T* input, const T* rois, T* output, int64_t num_rois, int64_t channels,
                  int height, int width, int pooled_h, int pooled_w, const RoIAlignOptions& opt) {
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<BilinearTap<T>> taps;
    for (int64_t k = begin; k < end; ++k) {
      const auto g = roi_geometry<T>(rois + k * 5, opt.spatial_scale, opt.aligned, pooled_h,
                                     pooled_w, static_cast<int>(opt.sampling_ratio));
      roi_taps(g, height, width, pooled_h, pooled_w, taps);
      const int per_bin = g.grid_h * g.grid_w;
      for (int64_t c = 0; c < channels; ++c) {
        const T* in = input + (static_cast<int64_t>(g.batch) * channels + c) * height * width;
        T* out = output + (k * channels + c) * pooled_h * pooled_w;
        const BilinearTap<T>* t = taps.data();
        for (int b = 0; b < pooled_h * pooled_w; ++b) {
          T acc = 0;
          for (int s = 0; s < per_bin; ++s, ++t) {
            acc += t->w1 * in[t->p1] + t->w2 * in[t->p2] + t->w3 * in[t->p3] + t->w4 * in[t->p4];
          }
          out[b] = acc / g.count;
        }
      }
    }
  });
}

template <typename T>
void backward_impl(const T* grad_out, const T* rois, T* grad_in, int64_t num_rois,
                   int64_t channels, int height, int width, int pooled_h, int pooled_w,
                   const RoIAlignOptions& opt) {
  // Taps depend only on the RoI: compute them once for all channels.
  std::vector<std::vector<BilinearTap<T>>> all_taps(num_rois);
  std::vector<RoIGeometry<T>> geoms(num_rois);
  for (int64_t k = 0; k < num_rois; ++k) {
    geoms[k] = roi_geometry<T>(rois + k * 5, opt.spatial_scale, opt.aligned, pooled_h, pooled_w,
                               static_cast<int>(opt.sampling_ratio));
    roi_taps(geoms[k], height, width, pooled_h, pooled_w, all_taps[k]);
  }
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      for (int64_t k = 0; k < num_rois; ++k) {
        const auto& g = geoms[k];
        T* gin = grad_in + (static_cast<int64_t>(g.batch) * channels + c) * height * width;
        const T* gout = grad_out + (k * channels + c) * pooled_h * pooled_w;
        const BilinearTap<T>* t = all_taps[k].data();
        const int per_bin = g.grid_h * g.grid_w;
        for (int b = 0; b < pooled_h * pooled_w; ++b) {
          const T gb = gout[b];
          for (int s = 0; s < per_bin; ++s, ++t) {
            gin[t->p1] += gb * t->w1 / g.count;
            gin[t->p2] += gb * t->w2 / g.count;
            gin[t->p3] += gb * t->w3 / g.count;
            gin[t->p4] += gb * t->w4 / g.count;
          }
        }
      }
    }
  });
}

}  // namespace

at::Tensor roi_align_forward_cpu(const at::Tensor& input, const at::Tensor& rois,
                                 const RoIAlignOptions& opt) {
  const int64_t num_rois = rois.size(0), channels = input.size(1);
  const int height = static_cast<int>(input.size(2)), width = static_cast<int>(input.size(3));
  const int ph = static_cast<int>(opt.output_h), pw = static_cast<int>(opt.output_w);
  auto output = at::zeros({num_rois, channels, ph, pw}, input.options());
  if (num_rois == 0 || output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward_cpu", [&] {
    forward_impl<scalar_t>(input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
                           output.data_ptr<scalar_t>(), num_rois, channels, height, width, ph, pw,
                           opt);
  });
  return output;
}

at::Tensor roi_align_backward_cpu(const at::Tensor& grad_output, const at::Tensor& rois,
                                  at::IntArrayRef input_sizes, const RoIAlignOptions& opt) {
  auto grad_input = at::zeros(input_sizes, grad_output.options());
  const int64_t num_rois = rois.size(0), channels = input_sizes[1];
  if (num_rois == 0 || grad_input.numel() == 0) return grad_input;
  const int height = static_cast<int>(input_sizes[2]), width = static_cast<int>(input_sizes[3]);
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "roi_align_backward_cpu", [&] {
    backward_impl<scalar_t>(grad_output.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
                            grad_input.data_ptr<scalar_t>(), num_rois, channels, height, width,
                            static_cast<int>(opt.output_h), static_cast<int>(opt.output_w), opt);
  });
  return grad_input;
}

}  // namespace instseg::detail
