// QueryInst on CUDA against the CPU (label cuda): mask pasting, the Hungarian
// assignment (cost matrix to the host and back), predict() end to end and one
// training step through the Trainer. The shrunk fixture architecture
// (ResNet-18/16, FPN 64, 3 classes) with random weights and 12 proposals.
#include "common/cuda_util.h"
#include "common/test_util.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/trainer.h"
#include "instseg/matchers/hungarian_assigner.h"
#include "instseg/queryinst/queryinst.h"
#include "instseg/queryinst/queryinst_postprocess.h"
#include "queryinst/fixture_util.h"

#include <ATen/ATen.h>

#include <cmath>
#include <memory>

namespace instseg {
namespace {

QueryInstOptions small_queryinst_options() {
  auto o = test::queryinst_fixture_options();
  o.rpn_head.num_proposals = 12;
  o.roi_head.max_per_img = 12;
  return o;
}

std::shared_ptr<QueryInstImpl> small_queryinst() {
  at::manual_seed(31);
  return std::make_shared<QueryInstImpl>(small_queryinst_options());
}

std::shared_ptr<QueryInstImpl> cuda_copy(const QueryInstImpl& cpu) {
  auto m = std::make_shared<QueryInstImpl>(small_queryinst_options());
  test::copy_module_state(*m, cpu);
  m->to(at::kCUDA);
  return m;
}

Batch queryinst_scene(bool with_gt) {
  at::manual_seed(7);
  Batch b;
  b.images = at::randn({2, 3, 96, 128});
  for (int i = 0; i < 2; ++i) {
    ImageMeta m;
    m.image_id = i;
    m.img_h = 96 - 16 * i;
    m.img_w = 128;
    m.pad_h = 96;
    m.pad_w = 128;
    m.ori_h = m.img_h * 2;
    m.ori_w = 256;
    m.scale_w = m.scale_h = 0.5;
    b.metas.push_back(m);
    if (!with_gt) continue;
    GtInstances g;
    g.bboxes = at::tensor({8.f, 10.f, 60.f, 50.f, 40.f, 30.f + 4 * i, 120.f, 78.f}, at::kFloat).view({2, 4});
    g.labels = at::tensor({1, 2 * i}, at::kLong);
    g.masks = at::zeros({2, 96, 128}, at::kByte);
    g.masks[0].slice(0, 10, 50).slice(1, 8, 60).fill_(1);
    g.masks[1].slice(0, 30 + 4 * i, 78).slice(1, 40, 120).fill_(1);
    b.gts.push_back(g);
  }
  return b;
}

TEST(QueryInstCuda, PasteMasksMatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  at::manual_seed(2);
  auto masks = at::rand({40, 28, 28});
  auto xy = at::rand({40, 2}) * 200 - 20;
  auto boxes = at::cat({xy, xy + at::rand({40, 2}) * 120 + 0.5}, 1);
  boxes[3].copy_(at::tensor({30.f, 30.f, 30.f, 50.f}));  // zero width: mmdet maps the infinities to 0
  auto c = paste_masks(masks, boxes, 180, 240, 0.5);
  auto g = paste_masks(masks.to(at::kCUDA), boxes.to(at::kCUDA), 180, 240, 0.5);
  ASSERT_TRUE(g.is_cuda());
  ASSERT_EQ(g.sizes(), c.sizes());
  // grid_sample on CUDA rounds differently by an ulp: only pixels whose
  // interpolated value sits at the threshold may flip.
  EXPECT_LT(g.cpu().ne(c).sum().item<int64_t>(), 10);
}

TEST(QueryInstCuda, HungarianAssignmentRoundTripsThroughTheHost) {
  INSTSEG_REQUIRE_CUDA();
  at::manual_seed(12);
  for (int64_t gts : {0, 3, 12, 20}) {  // none, fewer than, as many as, more than the predictions
    SCOPED_TRACE("gts " + std::to_string(gts));
    auto pxy = at::rand({12, 2}) * 100;
    auto pred = at::cat({pxy, pxy + at::rand({12, 2}) * 50 + 1}, 1);
    auto logits = at::randn({12, 5});
    auto gxy = at::rand({gts, 2}) * 100;
    auto gt = at::cat({gxy, gxy + at::rand({gts, 2}) * 50 + 1}, 1);
    auto labels = at::randint(0, 5, {gts}, at::kLong);
    HungarianAssignerOptions o;
    auto c = hungarian_assign(pred, logits, gt, labels, 120, 160, o);
    auto g = hungarian_assign(pred.to(at::kCUDA), logits.to(at::kCUDA), gt.to(at::kCUDA), labels.to(at::kCUDA), 120,
                              160, o);
    ASSERT_TRUE(g.gt_inds.is_cuda() && g.labels.is_cuda());
    EXPECT_TRUE(at::equal(g.gt_inds.cpu(), c.gt_inds));
    EXPECT_TRUE(at::equal(g.labels.cpu(), c.labels));
    EXPECT_EQ(g.num_pos(), std::min<int64_t>(gts, 12));
  }
}

TEST(QueryInstCuda, PredictMatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  auto cpu = small_queryinst();
  auto gpu = cuda_copy(*cpu);
  cpu->eval();
  gpu->eval();
  at::NoGradGuard ng;
  Batch b = queryinst_scene(false);
  auto rc = cpu->predict(b);
  Batch bg = b;
  bg.images = b.images.to(at::kCUDA);
  auto rg = gpu->predict(bg);
  ASSERT_EQ(rg.size(), rc.size());
  for (size_t i = 0; i < rc.size(); ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    ASSERT_EQ(rg[i].size(), rc[i].size());
    ASSERT_GT(rc[i].size(), 0);
    EXPECT_TRUE(rg[i].masks.is_cuda());
    EXPECT_TRUE(at::equal(rg[i].labels.cpu(), rc[i].labels));
    EXPECT_LT(test::max_abs_diff(rg[i].scores.cpu(), rc[i].scores), 1e-4);
    EXPECT_LT(test::max_abs_diff(rg[i].bboxes.cpu(), rc[i].bboxes), 0.05);
    const double differing =
        rg[i].masks.cpu().ne(rc[i].masks).sum().item<double>() / static_cast<double>(rc[i].masks.numel());
    EXPECT_LT(differing, 1e-3);
  }
}

TEST(QueryInstCuda, TrainingStepMatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  auto cpu = small_queryinst();
  auto gpu = cuda_copy(*cpu);
  OptimizerOptions oo;
  oo.type = "AdamW";  // QueryInst's optimizer
  oo.lr = 2.5e-5;
  oo.weight_decay = 1e-4;
  auto run = [&](std::shared_ptr<QueryInstImpl> m, c10::Device dev, AmpDtype amp = AmpDtype::none) {
    TrainerOptions to;
    to.amp = amp;
    to.work_dir = test::temp_dir("queryinst_cuda_step");
    to.device = dev;
    to.clip_max_norm = 1.0;
    to.tensorboard = to.json_scalars = to.log_file = to.progress_bar = false;
    Trainer t(m, build_optimizer(*m, oo), LrSchedule(), to);
    return t.run_step(batch_to_device(queryinst_scene(true), dev));
  };
  const StepResult rc = run(cpu, c10::Device(c10::kCPU));
  const StepResult rg = run(gpu, c10::Device(c10::kCUDA));
  ASSERT_EQ(rg.values.size(), rc.values.size());
  for (size_t k = 0; k < rc.values.size(); ++k) {
    EXPECT_EQ(rg.values[k].first, rc.values[k].first);
    EXPECT_NEAR(rg.values[k].second, rc.values[k].second, 1e-3 * std::abs(rc.values[k].second) + 1e-5)
        << rc.values[k].first;
  }
  auto pc = cpu->named_parameters(true), pg = gpu->named_parameters(true);
  for (const auto& p : pc) {
    if (!p.value().requires_grad() || !p.value().grad().defined()) continue;
    ASSERT_TRUE(pg[p.key()].grad().defined()) << p.key();
    EXPECT_LT(test::norm_rel(pg[p.key()].grad().cpu(), p.value().grad()), 1e-3) << p.key();
    EXPECT_LT(test::norm_rel(pg[p.key()].detach().cpu(), p.value().detach()), 1e-5) << p.key();
  }
  // The same step under CUDA autocast (fp16 with the gradient scaler, bf16
  // without): taken, finite, and near the fp32 losses.
  for (AmpDtype amp : {AmpDtype::fp16, AmpDtype::bf16}) {
    SCOPED_TRACE(to_string(amp));
    auto again = cuda_copy(*small_queryinst());
    const StepResult ra = run(again, c10::Device(c10::kCUDA), amp);
    EXPECT_FALSE(ra.skipped);
    const double tol = amp == AmpDtype::fp16 ? 0.02 : 0.1;
    for (size_t k = 0; k < rg.values.size(); ++k) {
      EXPECT_TRUE(std::isfinite(ra.values[k].second)) << ra.values[k].first;
      // Later stages of a random model decode diverging boxes and may match
      // other queries under reduced precision: stage 0 is compared.
      if (ra.values[k].first.rfind("s0.loss", 0) != 0) continue;
      EXPECT_NEAR(ra.values[k].second, rg.values[k].second, tol * std::abs(rg.values[k].second) + 1e-3)
          << ra.values[k].first;
    }
  }
}

}  // namespace
}  // namespace instseg
