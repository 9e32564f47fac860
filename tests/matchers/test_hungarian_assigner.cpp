// Match costs (hand-computed) and the assigner's contracts: empty GT, one GT,
// more GTs than queries.
#include "common/test_util.h"
#include "instseg/matchers/hungarian_assigner.h"
#include "instseg/matchers/match_costs.h"

#include <ATen/ATen.h>

#include <cmath>

namespace instseg {
namespace {

TEST(MatchCosts, HandComputedValues) {
  // Focal cost at logit 0 (p = 0.5): pos = -log(.5)*.25*.25, neg = -log(.5)*.75*.25.
  auto logits = at::zeros({1, 3});
  FocalLossCostOptions fo;
  auto fc = focal_loss_cost(logits, at::tensor({2}, at::kLong), fo);
  const double l2 = std::log(2.0);
  EXPECT_NEAR(fc.item<double>(), (l2 * .25 * .25 - l2 * .75 * .25) * 2.0, 1e-6);
  // L1 cost: boxes normalised by (w, h) = (100, 50).
  auto p = at::tensor({0.f, 0.f, 10.f, 10.f}).view({1, 4});
  auto g = at::tensor({10.f, 5.f, 20.f, 15.f}).view({1, 4});
  auto l1 = bbox_l1_cost(p, g, 50, 100, 5.0);
  EXPECT_NEAR(l1.item<double>(), (0.1 + 0.1 + 0.1 + 0.1) * 5.0, 1e-6);
  // GIoU of two unit squares offset by half: IoU = .5/1.5, enclosure 1.5x1 -> giou = 1/3.
  auto a = at::tensor({0.f, 0.f, 1.f, 1.f}).view({1, 4});
  auto b = at::tensor({0.5f, 0.f, 1.5f, 1.f}).view({1, 4});
  EXPECT_NEAR(giou_cost(a, b, 2.0).item<double>(), -2.0 / 3.0, 1e-6);
  // Disjoint: IoU 0, enclosure 3x1 with union 2 -> giou = -1/3.
  auto c = at::tensor({2.f, 0.f, 3.f, 1.f}).view({1, 4});
  EXPECT_NEAR(giou_cost(a, c, 1.0).item<double>(), 1.0 / 3.0, 1e-6);
}

struct Scene {
  at::Tensor boxes, logits;
};
Scene make_scene(int64_t n, int64_t c) {
  at::manual_seed(3);
  auto xy = at::rand({n, 2}) * 80;
  auto wh = at::rand({n, 2}) * 40 + 5;
  return {at::cat({xy, xy + wh}, 1), at::randn({n, c})};
}

TEST(HungarianAssigner, EmptyGtMakesEverythingBackground) {
  auto s = make_scene(10, 3);
  auto r = hungarian_assign(s.boxes, s.logits, at::zeros({0, 4}), at::zeros({0}, at::kLong), 100,
                            120, HungarianAssignerOptions{});
  EXPECT_EQ(r.num_pos(), 0);
  EXPECT_TRUE((r.gt_inds == 0).all().item<bool>());
  EXPECT_TRUE((r.labels == -1).all().item<bool>());
}

TEST(HungarianAssigner, OneGtPicksTheCheapestQuery) {
  auto s = make_scene(10, 3);
  // GT equal to query 4's box with a confident logit for its class.
  auto gt = s.boxes.slice(0, 4, 5).clone();
  s.logits[4][1] = 8.0;
  auto r = hungarian_assign(s.boxes, s.logits, gt, at::tensor({1}, at::kLong), 100, 120,
                            HungarianAssignerOptions{});
  EXPECT_EQ(r.num_pos(), 1);
  EXPECT_EQ(r.gt_inds[4].item<int64_t>(), 1);
  EXPECT_EQ(r.labels[4].item<int64_t>(), 1);
}

TEST(HungarianAssigner, MoreGtsThanQueriesMatchesEveryQuery) {
  auto s = make_scene(3, 2);
  auto g = make_scene(7, 2);
  auto labels = at::tensor({0, 1, 0, 1, 1, 0, 0}, at::kLong);
  auto r = hungarian_assign(s.boxes, s.logits, g.boxes, labels, 100, 120,
                            HungarianAssignerOptions{});
  EXPECT_EQ(r.num_pos(), 3);
  // Distinct GTs, labels consistent with the GT they point to.
  auto gi = r.gt_inds - 1;
  EXPECT_EQ(std::get<0>(at::_unique(gi)).numel(), 3);
  EXPECT_TRUE(at::equal(r.labels, labels.index_select(0, gi)));
}

}  // namespace
}  // namespace instseg
