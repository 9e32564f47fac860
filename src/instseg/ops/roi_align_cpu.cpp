// CPU RoIAlign kernels (average pooling). The forward computes each output bin's
// sample taps once and reuses them for every channel; the backward scatters in
// parallel over channels (channel-major, or channels-last for many small RoIs),
// so it needs no atomics and is deterministic.
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

// The backward goes channels-last when its taps are at least this many times
// the map's pixels (measured: bench_ops, see roi_align_backward_cpu).
constexpr int64_t kChannelsLastTapsPerPixel = 8;

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

// Taps of every RoI (they depend only on the RoI: computed once for all channels).
template <typename T>
void all_roi_taps(const T* rois, int64_t num_rois, int height, int width, int pooled_h,
                  int pooled_w, const RoIAlignOptions& opt, std::vector<RoIGeometry<T>>& geoms,
                  std::vector<std::vector<BilinearTap<T>>>& taps) {
  geoms.resize(num_rois);
  taps.resize(num_rois);
  at::parallel_for(0, num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      geoms[k] = roi_geometry<T>(rois + k * 5, opt.spatial_scale, opt.aligned, pooled_h,
                                 pooled_w, static_cast<int>(opt.sampling_ratio));
      roi_taps(geoms[k], height, width, pooled_h, pooled_w, taps[k]);
    }
  });
}

// Channel-major scatter into NCHW grad_in, in parallel over channels.
template <typename T>
void backward_nchw(const T* grad_out, T* grad_in, const std::vector<RoIGeometry<T>>& geoms,
                   const std::vector<std::vector<BilinearTap<T>>>& all_taps, int64_t channels,
                   int64_t plane, int bins) {
  const auto num_rois = static_cast<int64_t>(geoms.size());
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      for (int64_t k = 0; k < num_rois; ++k) {
        const auto& g = geoms[k];
        T* gin = grad_in + (static_cast<int64_t>(g.batch) * channels + c) * plane;
        const T* gout = grad_out + (k * channels + c) * bins;
        const BilinearTap<T>* t = all_taps[k].data();
        const int per_bin = g.grid_h * g.grid_w;
        for (int b = 0; b < bins; ++b) {
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

// Channels-last scatter: grad_out as [K, bins, C], grad_in as [N, H*W, C], so
// each tap adds a run of contiguous channels (vectorised), in parallel over
// channel ranges.
template <typename T>
void backward_nhwc(const T* grad_out, T* grad_in, const std::vector<RoIGeometry<T>>& geoms,
                   const std::vector<std::vector<BilinearTap<T>>>& all_taps, int64_t channels,
                   int64_t plane, int bins) {
  const auto num_rois = static_cast<int64_t>(geoms.size());
  at::parallel_for(0, channels, 16, [&](int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    for (int64_t k = 0; k < num_rois; ++k) {
      const auto& g = geoms[k];
      const int per_bin = g.grid_h * g.grid_w;
      const T count = g.count;
      T* gin = grad_in + static_cast<int64_t>(g.batch) * plane * channels + begin;
      const BilinearTap<T>* t = all_taps[k].data();
      for (int b = 0; b < bins; ++b) {
        const T* __restrict gb = grad_out + (k * bins + b) * channels + begin;
        for (int s = 0; s < per_bin; ++s, ++t) {
          const int p[4] = {t->p1, t->p2, t->p3, t->p4};
          const T w[4] = {t->w1, t->w2, t->w3, t->w4};
          for (int j = 0; j < 4; ++j) {
            T* __restrict dst = gin + static_cast<int64_t>(p[j]) * channels;
            const T wj = w[j];
            for (int64_t c = 0; c < n; ++c) dst[c] += gb[c] * wj / count;
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

// Two scatter orders with the same sums: every grad_in element receives its
// (g * w) / count terms in mmcv's (RoI, bin, sample, tap) order either way, so
// both are bit-identical to mmcv's loop. One channel at a time, the taps of
// neighbouring samples hit the same pixels back to back: a chain of dependent
// read-modify-writes, slow when RoIs are small and many (QueryInst on nuclei:
// 600 RoIs of ~20 px, 4x slower per tap than on large RoIs; 30 % of a training
// step). Channels-last turns each tap into a vector add over channels but pays
// two layout copies of the whole map: it wins once the taps outnumber the map's
// pixels several times (bench_ops BM_RoIAlignBackward* has both regimes).
at::Tensor roi_align_backward_cpu(const at::Tensor& grad_output, const at::Tensor& rois,
                                  at::IntArrayRef input_sizes, const RoIAlignOptions& opt) {
  const int64_t num_rois = rois.size(0), channels = input_sizes[1];
  if (num_rois == 0 || c10::multiply_integers(input_sizes) == 0) {
    return at::zeros(input_sizes, grad_output.options());
  }
  const int height = static_cast<int>(input_sizes[2]), width = static_cast<int>(input_sizes[3]);
  const int ph = static_cast<int>(opt.output_h), pw = static_cast<int>(opt.output_w);
  const int64_t plane = static_cast<int64_t>(height) * width;
  at::Tensor grad_input;
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "roi_align_backward_cpu", [&] {
    std::vector<RoIGeometry<scalar_t>> geoms;
    std::vector<std::vector<BilinearTap<scalar_t>>> taps;
    all_roi_taps(rois.data_ptr<scalar_t>(), num_rois, height, width, ph, pw, opt, geoms, taps);
    int64_t num_taps = 0;
    for (const auto& t : taps) num_taps += 4 * static_cast<int64_t>(t.size());
    if (channels >= 16 && num_taps >= kChannelsLastTapsPerPixel * input_sizes[0] * plane) {
      auto g = grad_output.permute({0, 2, 3, 1}).contiguous();
      auto gin = at::zeros({input_sizes[0], input_sizes[2], input_sizes[3], channels},
                           grad_output.options());
      backward_nhwc(g.data_ptr<scalar_t>(), gin.data_ptr<scalar_t>(), geoms, taps, channels,
                    plane, ph * pw);
      grad_input = gin.permute({0, 3, 1, 2}).contiguous();
    } else {
      grad_input = at::zeros(input_sizes, grad_output.options());
      backward_nchw(grad_output.data_ptr<scalar_t>(), grad_input.data_ptr<scalar_t>(), geoms,
                    taps, channels, plane, ph * pw);
    }
  });
  return grad_input;
}

}  // namespace instseg::detail
