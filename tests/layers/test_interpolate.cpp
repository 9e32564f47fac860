#include "instseg/layers/interpolate.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/test_util.h"

namespace instseg {
namespace {

at::Tensor row(std::initializer_list<float> v) {
  return at::tensor(std::vector<float>(v)).view({1, 1, 1, static_cast<int64_t>(v.size())});
}

// torch nearest with size=: src = floor(dst * in / out), clamped to in - 1.
TEST(Interpolate, NearestExactTwice) {
  const at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 1, 2, 2});
  const at::Tensor y = resize_nearest(x, 4, 4);
  const at::Tensor e = at::tensor({1.f, 1.f, 2.f, 2.f, 1.f, 1.f, 2.f, 2.f,
                                   3.f, 3.f, 4.f, 4.f, 3.f, 3.f, 4.f, 4.f}).view({1, 1, 4, 4});
  EXPECT_TRUE(at::equal(y, e)) << y;
}

TEST(Interpolate, NearestNonIntegerRatios) {
  // 3 -> 5: floor(d * 0.6) = 0,0,1,1,2
  EXPECT_TRUE(at::equal(resize_nearest(row({10, 20, 30}), 1, 5), row({10, 10, 20, 20, 30})));
  // 5 -> 3: floor(d * 5/3) = 0,1,3
  EXPECT_TRUE(at::equal(resize_nearest(row({10, 20, 30, 40, 50}), 1, 3), row({10, 20, 40})));
  // 5 -> 9 (FPN top-down from a 5-wide to a 9-wide level): floor(d * 5/9)
  const at::Tensor y = resize_nearest(row({0, 1, 2, 3, 4}), 1, 9);
  EXPECT_TRUE(at::equal(y, row({0, 0, 1, 1, 2, 2, 3, 3, 4}))) << y;
}

// align_corners=False: src = (d + 0.5) * in / out - 0.5, clamped at 0.
TEST(Interpolate, BilinearHalfPixel) {
  const at::Tensor y = resize_bilinear(row({0, 4}), 1, 4);
  EXPECT_LT(test::max_abs_diff(y, row({0, 1, 3, 4})), 1e-6) << y;
  const at::Tensor z = resize_bilinear(row({0, 4}), 1, 4, /*align_corners=*/true);
  EXPECT_LT(test::max_abs_diff(z, row({0, 4.f / 3, 8.f / 3, 4})), 1e-6) << z;
}

TEST(Interpolate, ByScale) {
  const at::Tensor y = resize_by_scale(row({0, 4}), 2.0, "bilinear");
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{1, 1, 2, 4}));
  EXPECT_LT(test::max_abs_diff(y[0][0][0], at::tensor({0.f, 1.f, 3.f, 4.f})), 1e-6) << y;
  // scale 0.5 nearest on 2x5: out 1x2 (floor(n * 0.5)), src = floor(d * 2) = 0, 2
  const at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f}).view({1, 1, 2, 5});
  EXPECT_TRUE(at::equal(resize_by_scale(x, 0.5, "nearest"), at::tensor({1.f, 3.f}).view({1, 1, 1, 2})));
  EXPECT_THROW(resize_by_scale(row({1, 2}), 2.0, "bicubic"), c10::Error);
}

TEST(Interpolate, RejectsBadInput) {
  EXPECT_THROW(resize_nearest(at::zeros({2, 3}), 4, 4), c10::Error);
  EXPECT_THROW(resize_nearest(at::zeros({1, 1, 2, 2}, at::kLong), 4, 4), c10::Error);
  EXPECT_THROW(resize_bilinear(at::zeros({1, 1, 2, 2}), 0, 4), c10::Error);
}

}  // namespace
}  // namespace instseg
