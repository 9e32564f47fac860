// RoIAlign's CUDA kernel (roi_align_cuda.cu) against torchvision's float64
// cases and against the CPU kernel on random float32 inputs; the FPN
// multi-level extraction on CUDA, also from fp16/bf16 features (autocast).
#include "common/cuda_util.h"
#include "common/test_util.h"
#include "instseg/ops/multi_level_roi_align.h"
#include "instseg/ops/roi_align.h"
#include "ops/roi_align_fixture.h"

#include <ATen/ATen.h>

namespace instseg {
namespace {

// Random RoIs over a [B, ., H*scale, W*scale] image, some partly outside it
// and some tiny: [K,5] (batch index, x1, y1, x2, y2).
at::Tensor random_rois(int64_t k, int64_t batch, double img_h, double img_w) {
  auto b = at::randint(0, batch, {k, 1}).to(at::kFloat);
  auto xy = at::rand({k, 2}) * at::tensor({img_w, img_h}, at::kFloat) * 1.1 - 8;
  auto wh = at::rand({k, 2}) * at::tensor({img_w, img_h}, at::kFloat) * 0.6 + 0.25;
  return at::cat({b, xy, xy + wh}, 1);
}

TEST(RoIAlignCuda, MatchesTorchvisionFloat64Cases) {
  INSTSEG_REQUIRE_CUDA();
  auto d = test::load_roi_align_cases();
  for (std::string name : {"feat_s2", "adaptive", "unaligned", "unaligned_adaptive", "mask28", "empty"}) {
    SCOPED_TRACE(name);
    const std::string p = name + ".";
    auto opt = test::case_options(d, p);
    auto x = test::case_tensor(d, p + "input").to(at::kCUDA).requires_grad_(true);
    auto rois = test::case_tensor(d, p + "rois").to(at::kCUDA);
    auto y = roi_align(x, rois, opt);
    ASSERT_TRUE(y.is_cuda());
    EXPECT_LT(test::max_abs_diff(y.cpu(), test::case_tensor(d, p + "output")), 1e-12);
    if (rois.size(0) > 0) {
      y.backward(test::case_tensor(d, p + "grad_output").to(at::kCUDA));
      // The backward scatters with atomicAdd: the summation order differs.
      EXPECT_LT(test::max_abs_diff(x.grad().cpu(), test::case_tensor(d, p + "grad_input")), 1e-10);
    }
  }
}

TEST(RoIAlignCuda, MatchesCpuOnRandomFloat32) {
  INSTSEG_REQUIRE_CUDA();
  at::manual_seed(3);
  auto x = at::randn({2, 16, 50, 70});
  for (int aligned = 0; aligned < 2; ++aligned) {
    for (int64_t sr : {0, 2}) {
      SCOPED_TRACE("aligned " + std::to_string(aligned) + " sampling_ratio " + std::to_string(sr));
      RoIAlignOptions o;
      o.output_h = 7;
      o.output_w = 5;
      o.spatial_scale = 0.25;
      o.sampling_ratio = sr;
      o.aligned = aligned != 0;
      auto rois = random_rois(300, 2, 200, 280);
      auto xc = x.clone().requires_grad_(true);
      auto xg = x.to(at::kCUDA).requires_grad_(true);
      auto yc = roi_align(xc, rois, o);
      auto yg = roi_align(xg, rois.to(at::kCUDA), o);
      EXPECT_LT(test::norm_rel(yg.cpu(), yc), 1e-6);
      EXPECT_LT(test::max_abs_diff(yg.cpu(), yc), 1e-5);
      auto g = at::randn_like(yc);
      yc.backward(g);
      yg.backward(g.to(at::kCUDA));
      EXPECT_LT(test::norm_rel(xg.grad().cpu(), xc.grad()), 1e-6);
    }
  }
}

TEST(MultiLevelRoIAlignCuda, MatchesCpuIncludingReducedPrecisionFeatures) {
  INSTSEG_REQUIRE_CUDA();
  at::manual_seed(4);
  std::vector<at::Tensor> feats;
  for (int l = 0; l < 4; ++l) feats.push_back(at::randn({2, 8, 64 >> l, 96 >> l}));
  MultiLevelRoIAlignOptions o;
  o.output_size = 7;
  auto rois = random_rois(200, 2, 256, 384);
  auto ref = multi_level_roi_align(feats, rois, o);
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    SCOPED_TRACE(std::string(c10::toString(dtype)));
    std::vector<at::Tensor> g;
    for (const auto& f : feats) g.push_back(f.to(at::kCUDA, dtype));
    auto y = multi_level_roi_align(g, rois.to(at::kCUDA), o);
    ASSERT_TRUE(y.is_cuda());
    EXPECT_EQ(y.scalar_type(), at::kFloat);  // pooled in float32
    // fp16 keeps 11 significant bits of the features, bf16 8.
    const double tol = dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 5e-3 : 4e-2;
    EXPECT_LT(test::max_abs_diff(y.cpu(), ref), tol);
  }
}

}  // namespace
}  // namespace instseg
