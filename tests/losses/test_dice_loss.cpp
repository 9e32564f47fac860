#include "instseg/losses/dice_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace instseg {
namespace {

TEST(DiceLoss, HandComputedVNet) {
  // Logits 0 -> p = 0.5 on 4 pixels; target [1,1,0,0]:
  // a = 1, b = 4*0.25 + 1e-3, c = 2 + 1e-3, d = 2/(3.002), loss = 1 - d = 0.3337775.
  at::Tensor pred = at::zeros({1, 2, 2});
  at::Tensor target = at::tensor({1, 1, 0, 0}, at::kByte).view({1, 2, 2});
  DiceLossOptions o;
  o.loss_weight = 3.0;
  const double expected = 1.0 - 2.0 / 3.002;
  EXPECT_NEAR(expected, 0.3337775, 1e-7);
  EXPECT_NEAR(dice_loss(pred, target, o).item<double>(), 3 * expected, 1e-6);
  at::Tensor none = dice_loss(pred, target, o, at::Tensor(), instseg::nullopt, "none");
  ASSERT_EQ(none.dim(), 1);
  EXPECT_NEAR(none[0].item<double>(), 3 * expected, 1e-6);
}

TEST(DiceLoss, QueryInstSettingsAndNaive) {
  // activate=false (probabilities in), eps 1e-5, weight 8 (QueryInst DynamicMaskHead).
  at::Tensor prob = at::tensor({0.9f, 0.2f, 0.0f, 0.6f}).view({1, 4});
  at::Tensor target = at::tensor({1.f, 0.f, 0.f, 1.f}).view({1, 4});
  DiceLossOptions o;
  o.activate = false;
  o.eps = 1e-5;
  o.loss_weight = 8.0;
  const double a = 0.9 + 0.6, b = 0.81 + 0.04 + 0.36 + 1e-5, c = 2 + 1e-5;
  EXPECT_NEAR(dice_loss(prob, target, o).item<double>(), 8 * (1 - 2 * a / (b + c)), 1e-5);
  o.naive_dice = true;
  const double bn = 0.9 + 0.2 + 0.6, cn = 2;
  EXPECT_NEAR(dice_loss(prob, target, o).item<double>(), 8 * (1 - (2 * a + 1e-5) / (bn + cn + 1e-5)), 1e-5);
  // avg_factor with mean: sum / (avg + eps).
  at::Tensor two = at::cat({prob, prob});
  at::Tensor two_t = at::cat({target, target});
  o.naive_dice = false;
  at::Tensor per = dice_loss(two, two_t, o, at::Tensor(), instseg::nullopt, "none");
  EXPECT_NEAR(dice_loss(two, two_t, o, at::Tensor(), 4.0).item<double>(), per.sum().item<double>() / 4.0, 1e-5);
}

TEST(DiceLoss, PerfectPredictionIsNearZero) {
  at::Tensor target = at::tensor({1.f, 0.f, 1.f}).view({1, 3});
  at::Tensor logits = (target * 2 - 1) * 30;  // sigmoid saturates to {0,1}
  DiceLossOptions o;
  EXPECT_LT(dice_loss(logits, target, o).item<double>(), 1e-3);
  EXPECT_THROW(dice_loss(at::zeros({2, 3}), at::zeros({3, 3}), o), c10::Error);
}

}  // namespace
}  // namespace instseg
