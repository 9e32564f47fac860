#include "instseg/losses/focal_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace instseg {
namespace {

// Scalar reference of one element: -[t log p + (1-t) log(1-p)] * w_alpha * pt^gamma.
double focal_ref(double x, double t, double alpha = 0.25, double gamma = 2.0) {
  const double p = 1.0 / (1.0 + std::exp(-x));
  const double pt = (1 - p) * t + p * (1 - t);
  const double w = (alpha * t + (1 - alpha) * (1 - t)) * std::pow(pt, gamma);
  const double bce = -(t * std::log(p) + (1 - t) * std::log(1 - p));
  return bce * w;
}

TEST(FocalLoss, HandComputedLabels) {
  // Two cells, two classes; labels 1 and 2 (= background).
  at::Tensor pred = at::tensor({0.0f, 2.0f, -1.0f, 0.5f}).view({2, 2});
  at::Tensor labels = at::tensor({1, 2}, at::kLong);
  FocalLossOptions o;
  const double expected_sum = focal_ref(0.0, 0) + focal_ref(2.0, 1) + focal_ref(-1.0, 0) + focal_ref(0.5, 0);
  // Values worked by hand for the first row: 0.75*0.25*ln2 = 0.1299651 and 0.25*(1-s(2))^2*ln(1+e^-2) = 0.0004509.
  EXPECT_NEAR(focal_ref(0.0, 0) + focal_ref(2.0, 1), 0.1304160, 1e-6);
  at::Tensor sum = sigmoid_focal_loss(pred, labels, o, at::Tensor(), instseg::nullopt, "sum");
  EXPECT_NEAR(sum.item<double>(), expected_sum, 1e-6);
  // avg_factor: sum / (avg + float eps) (mmdet weight_reduce_loss).
  at::Tensor avg = sigmoid_focal_loss(pred, labels, o, at::Tensor(), 2.0);
  EXPECT_NEAR(avg.item<double>(), expected_sum / (2.0 + std::numeric_limits<float>::epsilon()), 1e-7);
  // mean without avg_factor: over all N*C elements.
  EXPECT_NEAR(sigmoid_focal_loss(pred, labels, o).item<double>(), expected_sum / 4, 1e-7);
  // loss_weight scales.
  o.loss_weight = 2.0;
  EXPECT_NEAR(sigmoid_focal_loss(pred, labels, o, at::Tensor(), instseg::nullopt, "sum").item<double>(),
              2 * expected_sum, 1e-6);
}

TEST(FocalLoss, OneHotTargetsAndWeights) {
  at::Tensor pred = at::tensor({0.3f, -0.7f, 1.5f, 0.1f}).view({2, 2});
  at::Tensor onehot = at::tensor({1.f, 0.f, 0.f, 0.f}).view({2, 2});
  at::Tensor labels = at::tensor({0, 2}, at::kLong);
  FocalLossOptions o;
  at::Tensor a = sigmoid_focal_loss(pred, onehot, o, at::Tensor(), instseg::nullopt, "none");
  at::Tensor b = sigmoid_focal_loss(pred, labels, o, at::Tensor(), instseg::nullopt, "none");
  EXPECT_TRUE(at::allclose(a, b));
  EXPECT_NEAR(a[0][0].item<double>(), focal_ref(0.3, 1), 1e-7);
  EXPECT_NEAR(a[1][0].item<double>(), focal_ref(1.5, 0), 1e-7);
  // Per-row weight zeroes the second row.
  at::Tensor w = at::tensor({1.f, 0.f});
  at::Tensor s = sigmoid_focal_loss(pred, labels, o, w, instseg::nullopt, "sum");
  EXPECT_NEAR(s.item<double>(), focal_ref(0.3, 1) + focal_ref(-0.7, 0), 1e-6);
  EXPECT_THROW(sigmoid_focal_loss(pred.view({4}), labels, o), c10::Error);
}

TEST(FocalLoss, Gradient) {
  at::Tensor pred = at::tensor({0.2f, -0.4f}).view({1, 2}).set_requires_grad(true);
  at::Tensor labels = at::tensor({0}, at::kLong);
  FocalLossOptions o;
  sigmoid_focal_loss(pred, labels, o, at::Tensor(), instseg::nullopt, "sum").backward();
  // Central finite differences of the scalar reference.
  const double h = 1e-4;
  const double g0 = (focal_ref(0.2 + h, 1) - focal_ref(0.2 - h, 1)) / (2 * h);
  const double g1 = (focal_ref(-0.4 + h, 0) - focal_ref(-0.4 - h, 0)) / (2 * h);
  EXPECT_NEAR(pred.grad()[0][0].item<double>(), g0, 1e-4);
  EXPECT_NEAR(pred.grad()[0][1].item<double>(), g1, 1e-4);
}

}  // namespace
}  // namespace instseg
