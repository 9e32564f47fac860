#include "instseg/engine/lr_schedule.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <cmath>

namespace instseg {

// QueryInst 1x: LinearLR(start_factor=0.001, begin=0, end=1000, by_epoch=False)
// then MultiStepLR(milestones=[8, 11], gamma=0.1, end=12) on lr=1e-4.
TEST(LrSchedule, QueryInstWarmupThenSteps) {
  LrSchedule s({SchedulerSpec::linear_warmup(1000, 0.001), SchedulerSpec::multistep({8, 11}, 0.1, 12)});
  const double base = 1e-4;
  // mmengine: factor = start + (1 - start) * min(999, t) / 999
  EXPECT_DOUBLE_EQ(s.lr(base, 0, 0), 1e-7);
  EXPECT_NEAR(s.lr(base, 1, 0), 1e-4 * (0.001 + 0.999 / 999.0), 1e-18);
  EXPECT_NEAR(s.lr(base, 499, 0), 5e-5, 1e-15);  // 0.001 + 0.999*499/999 = 0.5
  EXPECT_NEAR(s.lr(base, 999, 0), 1e-4, 1e-15);
  EXPECT_NEAR(s.lr(base, 5000, 3), 1e-4, 1e-15);   // warm-up done, before milestones
  EXPECT_NEAR(s.lr(base, 5000, 7), 1e-4, 1e-15);
  EXPECT_NEAR(s.lr(base, 50000, 8), 1e-5, 1e-16);  // 9th epoch (0-based 8)
  EXPECT_NEAR(s.lr(base, 50000, 10), 1e-5, 1e-16);
  EXPECT_NEAR(s.lr(base, 90000, 11), 1e-6, 1e-17);
  // Warm-up and the epoch decay compose multiplicatively.
  EXPECT_NEAR(s.lr(base, 10, 8), 1e-5 * (0.001 + 0.999 * 10 / 999.0), 1e-18);
}

// SOLOv2 1x: LinearLR(start_factor=0.001, end=500 iters) and milestones [8, 11] on lr=0.01.
TEST(LrSchedule, Solov2Values) {
  LrSchedule s({SchedulerSpec::linear_warmup(500, 0.001), SchedulerSpec::multistep({8, 11}, 0.1, 12)});
  EXPECT_NEAR(s.lr(0.01, 0, 0), 1e-5, 1e-18);
  EXPECT_NEAR(s.lr(0.01, 250, 0), 0.01 * (0.001 + 0.999 * 250 / 499.0), 1e-15);
  EXPECT_NEAR(s.lr(0.01, 499, 0), 0.01, 1e-15);
  EXPECT_NEAR(s.lr(0.01, 100000, 11), 1e-4, 1e-17);
}

TEST(LrSchedule, CosineByEpoch) {
  // CosineAnnealingLR(T_max=10, eta_min=0, begin=0, end=10, by_epoch=True)
  LrSchedule s({SchedulerSpec::cosine(10, 0.0, true)});
  EXPECT_NEAR(s.lr(0.1, 0, 0), 0.1, 1e-15);
  EXPECT_NEAR(s.lr(0.1, 0, 5), 0.05, 1e-15);
  EXPECT_NEAR(s.lr(0.1, 0, 9), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-15);
  EXPECT_NEAR(s.lr(0.1, 0, 20), s.lr(0.1, 0, 9), 0);  // frozen after end
  // eta_min as an absolute lr: 0.01 + (0.1 - 0.01) * 0.5 at half way.
  LrSchedule m({SchedulerSpec::cosine(10, 0.01, true)});
  EXPECT_NEAR(m.lr(0.1, 0, 5), 0.055, 1e-15);
}

TEST(LrSchedule, ConvertToIterBased) {
  auto c = SchedulerSpec::cosine(4, 0.0, true);
  c.convert_to_iter_based = true;
  LrSchedule s({c}, /*epoch_length=*/10);
  // T_max = 40 iterations: at iteration 20 the lr is half.
  EXPECT_NEAR(s.lr(1.0, 20, 2), 0.5, 1e-15);
  EXPECT_NEAR(s.lr(1.0, 10, 1), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
}

TEST(LrSchedule, BeginOffsetAndConstant) {
  SchedulerSpec ms = SchedulerSpec::multistep({2}, 0.5, 100);
  ms.begin = 3;  // milestones count from begin: decays at epoch 5
  SchedulerSpec k;
  k.type = SchedulerSpec::Type::constant;
  k.by_epoch = false;
  k.factor = 0.25;
  k.begin = 0;
  k.end = 4;  // factor for iterations 0..2, 1 from iteration 3
  LrSchedule s({ms, k});
  EXPECT_DOUBLE_EQ(s.factor(0, 4), 0.25);
  EXPECT_DOUBLE_EQ(s.factor(3, 4), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(3, 5), 0.5);
  EXPECT_DOUBLE_EQ(s.factor(3, 2), 1.0);
}

TEST(LrSchedule, AppliesToParamGroups) {
  torch::nn::Linear a(2, 2), b(2, 2);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(a->parameters(), std::make_unique<torch::optim::SGDOptions>(0.1));
  groups.emplace_back(b->parameters(), std::make_unique<torch::optim::SGDOptions>(0.01));
  torch::optim::SGD opt(std::move(groups), torch::optim::SGDOptions(0.1));
  LrSchedule s({SchedulerSpec::multistep({1}, 0.1, 3)});
  s.apply(opt, {0.1, 0.01}, 0, 1);
  EXPECT_NEAR(opt.param_groups()[0].options().get_lr(), 0.01, 1e-15);
  EXPECT_NEAR(opt.param_groups()[1].options().get_lr(), 0.001, 1e-16);
  EXPECT_THROW(s.apply(opt, {0.1}, 0, 1), c10::Error);
}

TEST(LrSchedule, RejectsBadSpecs) {
  SchedulerSpec bad = SchedulerSpec::multistep({3, 1}, 0.1, 12);
  EXPECT_THROW(LrSchedule({bad}), c10::Error);
  SchedulerSpec e = SchedulerSpec::linear_warmup(10, 0.1);
  e.begin = 10;
  EXPECT_THROW(LrSchedule({e}), c10::Error);
}

}  // namespace instseg
