// Box utilities: hand-computed conversions, overlaps and DeltaXYWH decoding.
#include "common/test_util.h"
#include "instseg/structures/boxes.h"

#include <ATen/ATen.h>

#include <cmath>

namespace instseg {
namespace {

TEST(Boxes, CxcywhRoundTrip) {
  auto c = at::tensor({0.5, 0.5, 1.0, 1.0, 10.0, 20.0, 4.0, 6.0}, at::kDouble).view({2, 4});
  auto x = box_cxcywh_to_xyxy(c);
  auto e = at::tensor({0.0, 0.0, 1.0, 1.0, 8.0, 17.0, 12.0, 23.0}, at::kDouble).view({2, 4});
  EXPECT_LT(test::max_abs_diff(x, e), 1e-12);
  EXPECT_LT(test::max_abs_diff(box_xyxy_to_cxcywh(x), c), 1e-12);
}

TEST(Boxes, PairwiseIouGiouHandComputed) {
  auto a = at::tensor({0., 0., 2., 2., 0., 0., 1., 1.}, at::kDouble).view({2, 4});
  auto b = at::tensor({1., 1., 3., 3., 4., 0., 5., 1., 0., 0., 2., 2.}, at::kDouble).view({3, 4});
  auto iou = box_iou(a, b);
  auto giou = box_giou(a, b);
  ASSERT_EQ(iou.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_NEAR(iou[0][0].item<double>(), 1.0 / 7.0, 1e-12);
  EXPECT_NEAR(giou[0][0].item<double>(), 1.0 / 7.0 - (9.0 - 7.0) / 9.0, 1e-12);
  EXPECT_NEAR(iou[0][2].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(iou[1][1].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(giou[1][1].item<double>(), 0.0 - (5.0 - 2.0) / 5.0, 1e-12);
  EXPECT_NEAR(iou[1][2].item<double>(), 0.25, 1e-12);
  // Aligned versions agree with the diagonal.
  auto a2 = a, b2 = b.slice(0, 0, 2);
  EXPECT_LT(test::max_abs_diff(box_giou_aligned(a2, b2), box_giou(a2, b2).diagonal()), 1e-12);
  EXPECT_LT(test::max_abs_diff(box_iou_aligned(a2, b2), box_iou(a2, b2).diagonal()), 1e-12);
  // Empty inputs.
  EXPECT_EQ(box_iou(at::zeros({0, 4}), b.to(at::kFloat)).sizes(), (std::vector<int64_t>{0, 3}));
}

TEST(Boxes, DeltaXYWHDecode) {
  auto rois = at::tensor({10., 20., 30., 60.}, at::kDouble).view({1, 4});
  DeltaXYWHOptions o;
  o.stds = {0.5, 0.5, 1.0, 1.0};
  // dx = 0.2*0.5 of width 20 -> +2; dy = -0.4*0.5 of 40 -> -8; w*e^0.1, h*e^-0.2.
  auto d = at::tensor({0.2, -0.4, 0.1, -0.2}, at::kDouble).view({1, 4});
  auto b = box_xyxy_to_cxcywh(delta_xywh_decode(rois, d, o));
  EXPECT_NEAR(b[0][0].item<double>(), 22.0, 1e-12);
  EXPECT_NEAR(b[0][1].item<double>(), 32.0, 1e-12);
  EXPECT_NEAR(b[0][2].item<double>(), 20.0 * std::exp(0.1), 1e-12);
  EXPECT_NEAR(b[0][3].item<double>(), 40.0 * std::exp(-0.2), 1e-12);
  // dw clamp at |log(16/1000)|; no clipping to any image.
  auto big = at::tensor({0., 0., 100., 10.}, at::kDouble).view({1, 4});
  auto w = box_xyxy_to_cxcywh(delta_xywh_decode(rois, big, o));
  EXPECT_NEAR(w[0][2].item<double>(), 20.0 * 1000.0 / 16.0, 1e-9);
  EXPECT_NEAR(w[0][3].item<double>(), 40.0 * 1000.0 / 16.0, 1e-9);
}

TEST(Boxes, BoxesToRois) {
  auto r = boxes_to_rois({at::ones({2, 4}), at::zeros({0, 4}), at::full({1, 4}, 2.0)});
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(r[2][0].item<float>(), 2.0f);
  EXPECT_EQ(r[1][0].item<float>(), 0.0f);
}

}  // namespace
}  // namespace instseg
