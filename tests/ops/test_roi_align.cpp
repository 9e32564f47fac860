// RoIAlign against torchvision (float64 oracle fixtures from
// tests/data/ops/make_roi_align_fixture.py), hand-computed values, finite
// differences, and the FPN level rule. CUDA: test_roi_align_cuda.cpp.
#include "common/test_util.h"
#include "instseg/ops/multi_level_roi_align.h"
#include "instseg/ops/roi_align.h"
#include "ops/roi_align_fixture.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace instseg {
namespace {

using test::case_options;
using test::RoIAlignCases;

RoIAlignCases load_fixture() { return test::load_roi_align_cases(); }

at::Tensor get(const RoIAlignCases& d, const std::string& k) { return test::case_tensor(d, k); }

TEST(RoIAlign, MatchesTorchvisionFloat64ForwardAndBackward) {
  auto d = load_fixture();
  for (std::string name :
       {"feat_s2", "adaptive", "unaligned", "unaligned_adaptive", "mask28", "empty"}) {
    SCOPED_TRACE(name);
    const std::string p = name + ".";
    auto opt = case_options(d, p);
    auto x = get(d, p + "input").clone().requires_grad_(true);
    auto rois = get(d, p + "rois");
    auto y = roi_align(x, rois, opt);
    auto expected = get(d, p + "output");
    ASSERT_EQ(y.sizes(), expected.sizes());
    EXPECT_LT(test::max_abs_diff(y, expected), 1e-12);
    if (rois.size(0) > 0) {
      y.backward(get(d, p + "grad_output"));
      EXPECT_LT(test::max_abs_diff(x.grad(), get(d, p + "grad_input")), 1e-12);
    }
  }
}

TEST(RoIAlign, Float32MatchesTorchvision) {
  auto d = load_fixture();
  RoIAlignOptions o;
  o.spatial_scale = 0.125;
  o.sampling_ratio = 2;
  auto y = roi_align(get(d, "f32.input"), get(d, "f32.rois"), o);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(y, get(d, "f32.output")), 1e-6);
}

// 5x5 arange, one RoI covering pixels [1,3] x [1,3] (pixel centres 1.5..3.5):
// with aligned=True, 1x1 output and sampling 1, the single sample lies at the
// box centre (2.5, 2.5) - 0.5 = (2, 2) -> value 2*5+2 = 12.
TEST(RoIAlign, HandComputedCentreSample) {
  auto x = at::arange(25, at::kDouble).view({1, 1, 5, 5});
  auto rois = at::tensor({0.0, 1.0, 1.0, 4.0, 4.0}, at::kDouble).view({1, 5});
  RoIAlignOptions o;
  o.output_h = o.output_w = 1;
  o.sampling_ratio = 1;
  EXPECT_DOUBLE_EQ(roi_align(x, rois, o).item<double>(), 12.0);
  // 2x2 bins of a 3x3 box starting at 1 (aligned: 0.5): bin centres at
  // 0.5 + 0.75 = 1.25 and 0.5 + 2.25 = 2.75 -> values y*5+x (bilinear is exact
  // on a linear ramp).
  o.output_h = o.output_w = 2;
  auto y = roi_align(x, rois, o);
  auto e = at::tensor({1.25 * 5 + 1.25, 1.25 * 5 + 2.75, 2.75 * 5 + 1.25, 2.75 * 5 + 2.75},
                      at::kDouble)
               .view({1, 1, 2, 2});
  EXPECT_LT(test::max_abs_diff(y, e), 1e-12);
  // unaligned: no shift, sample at 2.5,2.5 -> 2.5*5+2.5.
  o.output_h = o.output_w = 1;
  o.aligned = false;
  EXPECT_DOUBLE_EQ(roi_align(x, rois, o).item<double>(), 15.0);
}

TEST(RoIAlign, FiniteDifferenceGradientFloat64) {
  at::manual_seed(7);
  auto x = at::randn({2, 2, 7, 9}, at::kDouble);
  auto rois = at::tensor({0.0, -3.0, 1.0, 6.0, 20.0,   // partly outside
                          1.0, 2.2, 3.1, 30.0, 12.5,   // wide
                          1.0, 10.0, 10.0, 11.0, 11.5},  // small
                         at::kDouble)
                  .view({3, 5});
  RoIAlignOptions o;
  o.output_h = 3;
  o.output_w = 4;
  o.spatial_scale = 0.5;
  o.sampling_ratio = 0;
  auto w = at::randn({3, 2, 3, 4}, at::kDouble);
  auto f = [&](const at::Tensor& in) { return (roi_align(in, rois, o) * w).sum(); };
  auto xg = x.clone().requires_grad_(true);
  f(xg).backward();
  auto analytic = xg.grad();
  // RoIAlign is piecewise linear in the input, so central differences are exact
  // up to rounding.
  auto numeric = at::zeros_like(x);
  const double eps = 1e-6;
  auto flat = x.view(-1);
  auto nflat = numeric.view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    auto xp = x.clone(), xm = x.clone();
    xp.view(-1)[i] += eps;
    xm.view(-1)[i] -= eps;
    nflat[i] = (f(xp).item<double>() - f(xm).item<double>()) / (2 * eps);
  }
  EXPECT_LT(test::max_abs_diff(analytic, numeric), 1e-7);
  EXPECT_GT(analytic.abs().sum().item<double>(), 0.0);
}

// mmcv's CPU RoIAlign backward restated as plainly as possible (one output
// element at a time; out-of-map samples skipped), for exact comparison: the
// kernel's two scatter orders must give these sums bit for bit.
template <typename T>
at::Tensor naive_roi_align_backward(const at::Tensor& grad_out, const at::Tensor& rois,
                                    at::IntArrayRef sizes, const RoIAlignOptions& o) {
  auto gin = at::zeros(sizes, grad_out.options());
  auto g = grad_out.accessor<T, 4>();
  auto r = rois.accessor<T, 2>();
  auto a = gin.accessor<T, 4>();
  const int64_t H = sizes[2], W = sizes[3];
  for (int64_t k = 0; k < rois.size(0); ++k) {
    const int64_t n = static_cast<int64_t>(r[k][0]);
    const T off = o.aligned ? T(0.5) : T(0);
    const T x1 = r[k][1] * o.spatial_scale - off, y1 = r[k][2] * o.spatial_scale - off;
    T rw = r[k][3] * o.spatial_scale - off - x1, rh = r[k][4] * o.spatial_scale - off - y1;
    if (!o.aligned) {
      rw = std::max(rw, T(1));
      rh = std::max(rh, T(1));
    }
    const T bh = rh / static_cast<T>(o.output_h), bw = rw / static_cast<T>(o.output_w);
    const int gh = o.sampling_ratio > 0 ? static_cast<int>(o.sampling_ratio)
                                        : static_cast<int>(std::ceil(rh / o.output_h));
    const int gw = o.sampling_ratio > 0 ? static_cast<int>(o.sampling_ratio)
                                        : static_cast<int>(std::ceil(rw / o.output_w));
    const T count = static_cast<T>(std::max(gh * gw, 1));
    for (int64_t c = 0; c < sizes[1]; ++c) {
      for (int64_t ph = 0; ph < o.output_h; ++ph) {
        for (int64_t pw = 0; pw < o.output_w; ++pw) {
          const T gb = g[k][c][ph][pw];
          for (int iy = 0; iy < gh; ++iy) {
            for (int ix = 0; ix < gw; ++ix) {
              T y = y1 + ph * bh + static_cast<T>(iy + .5f) * bh / static_cast<T>(gh);
              T x = x1 + pw * bw + static_cast<T>(ix + .5f) * bw / static_cast<T>(gw);
              if (y < -1 || y > H || x < -1 || x > W) continue;
              y = std::max(y, T(0));
              x = std::max(x, T(0));
              int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(x), yh, xh;
              if (yl >= H - 1) {
                yh = yl = H - 1;
                y = static_cast<T>(yl);
              } else {
                yh = yl + 1;
              }
              if (xl >= W - 1) {
                xh = xl = W - 1;
                x = static_cast<T>(xl);
              } else {
                xh = xl + 1;
              }
              const T ly = y - yl, lx = x - xl, hy = T(1) - ly, hx = T(1) - lx;
              a[n][c][yl][xl] += gb * (hy * hx) / count;
              a[n][c][yl][xh] += gb * (hy * lx) / count;
              a[n][c][yh][xl] += gb * (ly * hx) / count;
              a[n][c][yh][xh] += gb * (ly * lx) / count;
            }
          }
        }
      }
    }
  }
  return gin;
}

// Many small RoIs on a small map (the channels-last path, as in QueryInst
// training on nuclei) and few RoIs on a larger map (the channel-major path),
// 17 channels (not a multiple of the 16-channel ranges), RoIs partly and wholly
// outside the map, fixed (3 x 3: a count of 9, which 1/count would round) and
// adaptive sampling: bit-identical to mmcv's loop.
TEST(RoIAlign, BackwardIsBitIdenticalToMmcvsLoopOnBothScatterPaths) {
  at::manual_seed(3);
  struct Case {
    const char* name;
    int64_t rois, h, w;
    int64_t sampling;
    bool aligned;
  };
  for (const Case& cs : {Case{"many small rois", 60, 16, 20, 3, true},
                         Case{"many small rois, adaptive, unaligned", 60, 16, 20, 0, false},
                         Case{"few rois, large map", 3, 40, 48, 2, true}}) {
    SCOPED_TRACE(cs.name);
    const double scale = 0.25;
    auto xy = at::rand({cs.rois, 2}, at::kDouble) * at::tensor({cs.w / scale, cs.h / scale}) - 6;
    auto wh = at::rand({cs.rois, 2}, at::kDouble) * 40 + 2;
    auto batch = at::randint(0, 2, {cs.rois, 1}, at::kDouble);
    auto rois = at::cat({batch, xy, xy + wh}, 1);
    rois[0][1] = -60.0;  // wholly outside
    rois[0][3] = -30.0;
    RoIAlignOptions o;
    o.output_h = o.output_w = 7;
    o.spatial_scale = scale;
    o.sampling_ratio = cs.sampling;
    o.aligned = cs.aligned;
    const std::vector<int64_t> sizes{2, 17, cs.h, cs.w};
    auto g = at::randn({cs.rois, 17, 7, 7}, at::kDouble);
    EXPECT_TRUE(at::equal(roi_align_backward(g, rois, sizes, o),
                          naive_roi_align_backward<double>(g, rois, sizes, o)));
    auto gf = g.to(at::kFloat), rf = rois.to(at::kFloat);
    EXPECT_TRUE(at::equal(roi_align_backward(gf, rf, sizes, o),
                          naive_roi_align_backward<float>(gf, rf, sizes, o)));
  }
}

TEST(RoIAlign, EmptyRoIsGiveEmptyOutputAndZeroGradient) {
  auto x = at::randn({1, 3, 5, 5}, at::kFloat).requires_grad_(true);
  auto rois = at::zeros({0, 5}, at::kFloat);
  auto y = roi_align(x, rois, RoIAlignOptions{});
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{0, 3, 7, 7}));
  y.sum().backward();
  EXPECT_EQ(x.grad().abs().sum().item<float>(), 0.0f);
}

TEST(RoIAlign, RejectsBadInputs) {
  auto x = at::randn({1, 3, 5, 5});
  EXPECT_THROW(roi_align(x, at::zeros({2, 4}), RoIAlignOptions{}), c10::Error);
  EXPECT_THROW(roi_align(x, at::zeros({2, 5}, at::kDouble), RoIAlignOptions{}), c10::Error);
  auto bad_batch = at::tensor({1.0f, 0.f, 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(roi_align(x, bad_batch, RoIAlignOptions{}), c10::Error);
}

TEST(MultiLevelRoIAlign, LevelRuleAndOutputMatchMmdet) {
  auto d = load_fixture();
  std::vector<at::Tensor> feats;
  for (int l = 0; l < 4; ++l) feats.push_back(get(d, "mlvl.feat" + std::to_string(l)));
  auto rois = get(d, "mlvl.rois");
  auto lv = map_roi_levels(rois, 4);
  EXPECT_TRUE(at::equal(lv, get(d, "mlvl.levels")));
  // Spot-check the thresholds: sqrt(area) < 112 -> 0, < 224 -> 1, < 448 -> 2.
  auto r = at::tensor({0.0, 0.0, 0.0, 111.9, 111.9, 0.0, 0.0, 0.0, 112.0, 112.0, 0.0, 0.0, 0.0,
                       500.0, 500.0},
                      at::kFloat)
               .view({3, 5});
  auto l2 = map_roi_levels(r, 4);
  EXPECT_EQ(l2[0].item<int64_t>(), 0);
  EXPECT_EQ(l2[1].item<int64_t>(), 1);
  EXPECT_EQ(l2[2].item<int64_t>(), 3);

  MultiLevelRoIAlignOptions o;
  std::vector<at::Tensor> fg;
  for (auto& f : feats) fg.push_back(f.clone().requires_grad_(true));
  auto y = multi_level_roi_align(fg, rois, o);
  EXPECT_LT(test::max_abs_diff(y, get(d, "mlvl.output")), 1e-12);
  y.sum().backward();
  for (int l = 0; l < 4; ++l) EXPECT_GT(fg[l].grad().abs().sum().item<double>(), 0.0) << l;
  // No RoIs: [0,C,7,7].
  auto e = multi_level_roi_align(feats, at::zeros({0, 5}, at::kDouble), o);
  EXPECT_EQ(e.size(0), 0);
  EXPECT_EQ(e.size(1), 3);
}

TEST(MultiLevelRoIAlign, ReducedPrecisionFeaturesPoolInFloat32) {
  // Under autocast the features arrive as bf16: pooled in float32, close to
  // pooling the float32 features.
  at::manual_seed(5);
  std::vector<at::Tensor> feats{at::randn({1, 3, 16, 16}), at::randn({1, 3, 8, 8})};
  MultiLevelRoIAlignOptions o;
  o.output_size = 3;
  o.strides = {4, 8};
  auto rois = at::tensor({0.0, 2.0, 3.0, 40.0, 50.0, 0.0, 1.0, 1.0, 20.0, 12.0}, at::kFloat).view({2, 5});
  auto ref = multi_level_roi_align(feats, rois, o);
  std::vector<at::Tensor> half{feats[0].to(at::kBFloat16), feats[1].to(at::kBFloat16)};
  auto y = multi_level_roi_align(half, rois, o);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(y, ref), 0.05);
}

}  // namespace
}  // namespace instseg
