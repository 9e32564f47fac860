// core/compat.h: the LibTorch 1.13 / 2.x shims. instseg::conv2d must be the
// convolution (float64 reference) also where LibTorch 2.6's oneDNN gets
// channel counts that are not a multiple of 16 wrong.
#include "common/test_util.h"
#include "instseg/core/compat.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

TEST(Compat, Conv2dMatchesFloat64OnOddChannelCounts) {
  at::manual_seed(0);
  // SOLOv2's CoordConv shapes (C+2 channels on 40x40 .. 12x12 grids) and others
  // that LibTorch 2.6 / oneDNN 3.7 computed 5-10% off (or NaN) on AVX-512.
  struct Case {
    int64_t n, cin, cout, k, size, stride;
  };
  for (const Case& c : {Case{1, 66, 64, 3, 40, 1}, Case{2, 258, 64, 3, 24, 1}, Case{1, 17, 32, 7, 64, 2},
                        Case{2, 130, 48, 1, 36, 1}, Case{1, 64, 64, 3, 40, 1}, Case{1, 3, 16, 7, 64, 2},
                        // bf16 output channels that are not a multiple of 16 (2.6: 20-80 % off): a DCN's
                        // offset conv (27), a 1-class classifier, SOLOv2's K dynamic kernels (1x1).
                        Case{1, 4, 27, 3, 6, 1}, Case{1, 64, 1, 3, 24, 1}, Case{1, 128, 37, 1, 50, 1}}) {
    SCOPED_TRACE("cin " + std::to_string(c.cin) + " size " + std::to_string(c.size));
    auto x = at::randn({c.n, c.cin, c.size, c.size});
    auto w = at::randn({c.cout, c.cin, c.k, c.k}) * 0.05;
    auto b = at::randn({c.cout});
    const int64_t p = c.k / 2;
    auto ref = at::conv2d(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble), {c.stride, c.stride}, {p, p});
    for (int rep = 0; rep < 2; ++rep) {  // oneDNN's bad padding was not always the same
      auto y = instseg::conv2d(x, w, b, {c.stride, c.stride}, {p, p}, {1, 1}, 1);
      ASSERT_EQ(y.sizes(), ref.sizes());
      EXPECT_LT(test::norm_rel(y, ref), 1e-6);
    }
    // bf16 (CPU autocast's dtype): within bf16's rounding of the output.
    auto yb = instseg::conv2d(x.to(at::kBFloat16), w.to(at::kBFloat16), b.to(at::kBFloat16), {c.stride, c.stride},
                              {p, p}, {1, 1}, 1);
    auto refb = at::conv2d(x.to(at::kBFloat16).to(at::kDouble), w.to(at::kBFloat16).to(at::kDouble),
                           b.to(at::kBFloat16).to(at::kDouble), {c.stride, c.stride}, {p, p});
    EXPECT_LT(test::norm_rel(yb, refb), 1e-2);
    // fp32 under CPU autocast: at::conv2d computes in bf16 inside.
    at::Tensor ya;
    {
      c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, false);  // autocast on
      ya = instseg::conv2d(x, w, b, {c.stride, c.stride}, {p, p}, {1, 1}, 1);
      c10::impl::tls_set_dispatch_key_excluded(c10::DispatchKey::AutocastCPU, true);
    }
    EXPECT_EQ(ya.scalar_type(), at::kBFloat16);
    EXPECT_LT(test::norm_rel(ya, refb), 1e-2);
  }
}

TEST(Compat, Conv2dGradientsMatchFloat64) {
  at::manual_seed(1);
  auto x = at::randn({2, 66, 24, 24}).requires_grad_(true);
  auto w = (at::randn({32, 66, 3, 3}) * 0.05).requires_grad_(true);
  auto g = at::randn({2, 32, 24, 24});
  instseg::conv2d(x, w, at::Tensor(), {1, 1}, {1, 1}, {1, 1}, 1).backward(g);
  auto xd = x.detach().to(at::kDouble).requires_grad_(true);
  auto wd = w.detach().to(at::kDouble).requires_grad_(true);
  at::conv2d(xd, wd, {}, {1, 1}, {1, 1}).backward(g.to(at::kDouble));
  EXPECT_LT(test::norm_rel(x.grad(), xd.grad()), 1e-5);
  EXPECT_LT(test::norm_rel(w.grad(), wd.grad()), 1e-5);
}

TEST(Compat, Conv2dPadsOnlyAffectedCpuConvolutionsOnLibTorch2) {
  auto w66 = at::zeros({8, 66, 3, 3});
  EXPECT_EQ(conv2d_pads_channels(at::zeros({1, 66, 8, 8}), w66, 1), INSTSEG_TORCH2 == 1);
  EXPECT_EQ(conv2d_pads_channels(at::zeros({1, 66, 8, 8}, at::kBFloat16), w66, 1), INSTSEG_TORCH2 == 1);
  EXPECT_FALSE(conv2d_pads_channels(at::zeros({1, 64, 8, 8}), at::zeros({8, 64, 3, 3}), 1));   // blocked exactly
  EXPECT_FALSE(conv2d_pads_channels(at::zeros({1, 3, 8, 8}), at::zeros({8, 3, 3, 3}), 1));     // plain layout
  // bf16 output channels: padded to 16 on 2.x (slice back), multiples of 16 left alone.
  EXPECT_EQ(conv2d_pads_channels(at::zeros({1, 3, 8, 8}, at::kBFloat16), at::zeros({27, 3, 3, 3}, at::kBFloat16), 1),
            INSTSEG_TORCH2 == 1);
  EXPECT_FALSE(conv2d_pads_channels(at::zeros({1, 3, 8, 8}, at::kBFloat16), at::zeros({32, 3, 3, 3}, at::kBFloat16), 1));
  if (INSTSEG_TORCH2) {
    const Conv2dPadding p = conv2d_padding(at::zeros({1, 258, 8, 8}, at::kBFloat16), at::zeros({1, 258, 1, 1}), 1);
    EXPECT_EQ(p.in, 14);
    EXPECT_EQ(p.out, 15);
  }
  EXPECT_FALSE(conv2d_pads_channels(at::zeros({1, 66, 8, 8}, at::kDouble), w66.to(at::kDouble), 1));  // no oneDNN
  EXPECT_FALSE(conv2d_pads_channels(at::zeros({1, 66, 8, 8}), at::zeros({66, 1, 3, 3}), 66));  // grouped
}

}  // namespace
}  // namespace instseg
