#include "instseg/layers/weight_init.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace instseg {
namespace {

TEST(WeightInit, BiasInitWithProb) {
  // -log(0.99 / 0.01) = -4.59511985013459 (the SOLOv2 / focal-loss prior bias)
  EXPECT_NEAR(bias_init_with_prob(0.01), -4.59511985013459, 1e-12);
  EXPECT_NEAR(bias_init_with_prob(0.5), 0.0, 1e-15);
  EXPECT_THROW(bias_init_with_prob(0.0), c10::Error);
}

TEST(WeightInit, XavierUniformBound) {
  at::manual_seed(1);
  at::Tensor w = at::empty({64, 32, 3, 3});
  at::Tensor b = at::ones({64});
  xavier_init(w, b);
  const double bound = std::sqrt(6.0 / (32 * 9 + 64 * 9));
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_GT(w.abs().max().item<double>(), 0.98 * bound);
  EXPECT_TRUE(at::equal(b, at::zeros({64})));
}

TEST(WeightInit, KaimingFanOutStd) {
  at::manual_seed(2);
  at::Tensor w = at::empty({128, 64, 3, 3});
  kaiming_init(w, at::Tensor());
  const double expected = std::sqrt(2.0 / (128 * 9));
  EXPECT_NEAR(w.std().item<double>() / expected, 1.0, 0.02);
  at::Tensor u = at::empty({128, 64, 3, 3});
  kaiming_init(u, at::Tensor(), 0.0, "fan_in", "relu", "uniform");
  EXPECT_LE(u.abs().max().item<double>(), std::sqrt(3.0) * std::sqrt(2.0 / (64 * 9)) + 1e-7);
  EXPECT_THROW(kaiming_init(u, at::Tensor(), 0.0, "fan_avg"), c10::Error);
}

TEST(WeightInit, NormalAndConstant) {
  at::manual_seed(3);
  at::Tensor w = at::empty({200000});
  at::Tensor b = at::empty({7});
  normal_init(w, b, 0.0, 0.01, -4.595);
  EXPECT_NEAR(w.std().item<double>(), 0.01, 2e-4);
  EXPECT_TRUE(at::allclose(b, at::full({7}, -4.595)));
  constant_init(w, b, 1.0, 0.0);
  EXPECT_TRUE(at::equal(w, at::ones({200000})));
  EXPECT_TRUE(at::equal(b, at::zeros({7})));
}

}  // namespace
}  // namespace instseg
