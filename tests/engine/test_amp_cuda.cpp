// CUDA mixed precision (label cuda): AutocastGuard's fp16/bf16 scopes, the
// GradScaler's unscale / overflow / back-off on CUDA gradients, and a short
// fp16 training run through the Trainer that tracks the fp32 run.
#include "common/cuda_util.h"
#include "common/test_util.h"
#include "engine/tiny_model.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/trainer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace instseg {
namespace {

TEST(AmpCuda, AutocastScopesCastMatmulsAndRestore) {
  INSTSEG_REQUIRE_CUDA();
  auto a = at::randn({8, 8}, at::kCUDA), b = at::randn({8, 8}, at::kCUDA);
  for (auto [amp, dtype] : {std::pair{AmpDtype::fp16, at::kHalf}, std::pair{AmpDtype::bf16, at::kBFloat16}}) {
    {
      AutocastGuard ac(c10::DeviceType::CUDA, amp);
      EXPECT_TRUE(autocast_enabled(c10::DeviceType::CUDA));
      EXPECT_EQ(at::mm(a, b).scalar_type(), dtype);
      // Reductions that autocast keeps in fp32 stay fp32.
      EXPECT_EQ(at::softmax(a, 1).scalar_type(), at::kFloat);
      {
        AutocastGuard none(c10::DeviceType::CUDA, AmpDtype::none);  // nested no-op
        EXPECT_TRUE(autocast_enabled(c10::DeviceType::CUDA));
      }
    }
    EXPECT_FALSE(autocast_enabled(c10::DeviceType::CUDA));
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  }
}

TEST(AmpCuda, GradScalerUnscalesExactlyAndBacksOffOnOverflow) {
  INSTSEG_REQUIRE_CUDA();
  GradScaler s(true);  // 65536, growth 2 every 2000, backoff 0.5
  auto p1 = at::randn({100}, at::kCUDA).requires_grad_(true);
  auto p2 = at::randn({3, 4}, at::kCUDA).requires_grad_(true);
  auto p3 = at::randn({5}, at::kCUDA).requires_grad_(true);  // no gradient: skipped
  (s.scale((p1 * p1).sum() + (p2 * 3).sum())).backward();
  EXPECT_TRUE(p1.grad().is_cuda());
  const auto g1 = p1.grad().clone();
  EXPECT_FALSE(s.unscale({p1, p2, p3}));
  // A power-of-two scale divides exactly: the fp32 gradient itself.
  EXPECT_TRUE(at::equal(p1.grad(), g1 / 65536.0));
  EXPECT_TRUE(at::allclose(p1.grad(), 2 * p1.detach()));
  EXPECT_TRUE(at::allclose(p2.grad(), at::full_like(p2, 3)));
  s.update(false);
  EXPECT_EQ(s.get_scale(), 65536.0);
  EXPECT_EQ(s.growth_tracker(), 1);
  // An inf anywhere: found, the scale halves and the tracker resets.
  p2.mutable_grad()[1][2] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(s.unscale({p1, p2, p3}));
  s.update(true);
  EXPECT_EQ(s.get_scale(), 32768.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  // NaN counts too.
  p1.mutable_grad()[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(s.unscale({p1}));
}

TEST(AmpCuda, Fp16TrainingTracksFp32) {
  INSTSEG_REQUIRE_CUDA();
  auto run = [](AmpDtype amp) {
    at::manual_seed(1);
    test::TinyDetector model(0.0);
    model->to(at::kCUDA);
    OptimizerOptions oo;
    oo.type = "SGD";
    oo.lr = 0.05;
    oo.momentum = 0.9;
    TrainerOptions to;
    to.work_dir = test::temp_dir("amp_cuda");
    to.device = c10::Device(c10::kCUDA);
    to.amp = amp;
    to.tensorboard = to.json_scalars = to.log_file = to.progress_bar = false;
    Trainer t(model.ptr(), build_optimizer(*model, oo), LrSchedule(), to);
    test::ToySource src(32, 4);
    src.start_epoch(0, 0);
    std::vector<double> losses;
    int skipped = 0;
    while (auto b = src.next()) {
      StepResult r = t.run_step(batch_to_device(*b, to.device));
      losses.push_back(r.loss);
      skipped += r.skipped;
    }
    EXPECT_EQ(skipped, 0);
    return losses;
  };
  const auto fp32 = run(AmpDtype::none);
  const auto fp16 = run(AmpDtype::fp16);
  const auto bf16 = run(AmpDtype::bf16);
  ASSERT_EQ(fp16.size(), fp32.size());
  for (size_t i = 0; i < fp32.size(); ++i) {
    EXPECT_TRUE(std::isfinite(fp16[i]) && std::isfinite(bf16[i])) << i;
    EXPECT_NEAR(fp16[i], fp32[i], 0.01 * std::abs(fp32[i]) + 1e-3) << "step " << i;
    EXPECT_NEAR(bf16[i], fp32[i], 0.05 * std::abs(fp32[i]) + 1e-2) << "step " << i;
  }
  EXPECT_LT(fp16.back(), fp16.front());  // it learns
}

}  // namespace
}  // namespace instseg
