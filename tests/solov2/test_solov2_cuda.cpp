// SOLOv2 on CUDA against the CPU (label cuda): Matrix NMS, the head,
// post-processing from the same head outputs, predict() end to end, and one
// training step through the Trainer (losses, gradients, updated weights).
// A small randomly initialised model (ResNet-18/16, FPN 64, 3 classes) whose
// class-0 scores are spread over the grid so that post-processing has work.
#include "common/cuda_util.h"
#include "common/test_util.h"
#include "instseg/engine/amp.h"
#include "instseg/engine/optimizer.h"
#include "instseg/engine/trainer.h"
#include "instseg/solov2/matrix_nms.h"
#include "instseg/solov2/solov2.h"
#include "instseg/solov2/solov2_postprocess.h"

#include <ATen/ATen.h>

#include <cmath>
#include <memory>

namespace instseg {
namespace {

SOLOv2Options small_solov2_options() {
  SOLOv2Options o;
  o.backbone.resnet.depth = 18;
  o.backbone.resnet.base_channels = 16;
  o.backbone.resnet.frozen_stages = 1;
  o.neck.in_channels = {16, 32, 64, 128};
  o.neck.out_channels = 64;
  o.neck.num_outs = 5;
  SOLOv2HeadOptions& h = o.mask_head;
  h.num_classes = 3;
  h.in_channels = 64;
  h.feat_channels = 64;
  h.mask_feature_head.feat_channels = 64;
  h.mask_feature_head.out_channels = 64;
  return o;
}

std::shared_ptr<SOLOv2Impl> small_solov2() {
  at::manual_seed(21);
  auto m = std::make_shared<SOLOv2Impl>(small_solov2_options());
  at::NoGradGuard ng;
  // A fresh head scores every cell at the 0.01 prior: spread class 0's logits
  // so that about a tenth of the cells pass score_thr.
  m->mask_head->conv_cls->weight[0].mul_(40.0);
  m->mask_head->conv_cls->bias[0].fill_(-1.0);
  // Mask kernels large enough for masks above mask_thr.
  m->mask_head->conv_kernel->weight.mul_(30.0);
  return m;
}

std::shared_ptr<SOLOv2Impl> cuda_copy(const SOLOv2Impl& cpu) {
  auto m = std::make_shared<SOLOv2Impl>(small_solov2_options());
  test::copy_module_state(*m, cpu);
  m->to(at::kCUDA);
  return m;
}

// Two images (one smaller than the padded batch) with rectangle and ellipse GTs.
Batch solov2_scene(bool with_gt) {
  at::manual_seed(5);
  Batch b;
  b.images = at::randn({2, 3, 128, 160});
  for (int i = 0; i < 2; ++i) {
    ImageMeta m;
    m.image_id = i;
    m.img_h = 128 - 24 * i;
    m.img_w = 160;
    m.pad_h = 128;
    m.pad_w = 160;
    m.ori_h = m.img_h * 2;
    m.ori_w = 320;
    m.scale_w = 0.5;
    m.scale_h = 0.5;
    b.metas.push_back(m);
    if (!with_gt) continue;
    GtInstances g;
    g.bboxes = at::tensor({10.f, 12.f, 70.f, 60.f, 60.f + 20 * i, 30.f, 150.f, 100.f}, at::kFloat).view({2, 4});
    g.labels = at::tensor({0, 2 - i}, at::kLong);
    g.masks = at::zeros({2, 128, 160}, at::kByte);
    g.masks[0].slice(0, 12, 60).slice(1, 10, 70).fill_(1);
    auto yy = at::arange(128, at::kFloat).view({-1, 1}), xx = at::arange(160, at::kFloat).view({1, -1});
    const float cx = (60.f + 20 * i + 150.f) / 2, cy = 65.f;
    g.masks[1].copy_(((xx - cx) / 45).pow(2) + ((yy - cy) / 35).pow(2) <= 1);
    b.gts.push_back(g);
  }
  return b;
}

// Detections of CUDA vs CPU: same count and labels, scores to 1e-4, masks
// differing in at most 0.1% of pixels (boundary pixels of near-0.5 soft masks).
void expect_same_detections(const std::vector<Instances>& gpu, const std::vector<Instances>& cpu) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    const Instances& g = gpu[i];
    const Instances& c = cpu[i];
    ASSERT_EQ(g.size(), c.size());
    if (c.size() == 0) continue;
    EXPECT_TRUE(g.scores.is_cuda() && g.masks.is_cuda() && g.labels.is_cuda() && g.bboxes.is_cuda());
    EXPECT_TRUE(at::equal(g.labels.cpu(), c.labels));
    EXPECT_LT(test::max_abs_diff(g.scores.cpu(), c.scores), 1e-4);
    const double differing = g.masks.cpu().ne(c.masks).sum().item<double>() / static_cast<double>(c.masks.numel());
    EXPECT_LT(differing, 1e-3);
    EXPECT_LT(test::max_abs_diff(g.bboxes.cpu(), c.bboxes), 2.0);
  }
}

TEST(MatrixNMSCuda, MatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  at::manual_seed(9);
  // 60 random blobs (unions of rectangles) in 3 classes on a 48x64 map.
  auto masks = at::zeros({60, 48, 64}, at::kBool);
  for (int64_t k = 0; k < 60; ++k) {
    for (int r = 0; r < 2; ++r) {
      auto c = at::randint(0, 40, {4}).to(at::kLong);
      const int64_t y0 = c[0].item<int64_t>(), x0 = c[1].item<int64_t>();
      masks[k].slice(0, y0, y0 + 4 + c[2].item<int64_t>() / 4).slice(1, x0, x0 + 4 + c[3].item<int64_t>() / 3).fill_(true);
    }
  }
  auto labels = at::randint(0, 3, {60}, at::kLong);
  auto scores = at::rand({60});
  for (const char* kernel : {"gaussian", "linear"}) {
    SCOPED_TRACE(kernel);
    MatrixNMSOptions o;
    o.kernel = kernel;
    o.filter_thr = 0.05;
    o.nms_pre = 50;
    o.max_num = 30;
    auto c = mask_matrix_nms(masks, labels, scores, o);
    auto g = mask_matrix_nms(masks.to(at::kCUDA), labels.to(at::kCUDA), scores.to(at::kCUDA), o);
    ASSERT_TRUE(g.scores.is_cuda());
    ASSERT_EQ(g.keep_inds.size(0), c.keep_inds.size(0));
    EXPECT_TRUE(at::equal(g.keep_inds.cpu(), c.keep_inds));
    EXPECT_TRUE(at::equal(g.labels.cpu(), c.labels));
    EXPECT_LT(test::max_abs_diff(g.scores.cpu(), c.scores), 1e-6);
  }
}

TEST(SOLOv2Cuda, HeadAndPostprocessingMatchCpu) {
  INSTSEG_REQUIRE_CUDA();
  auto cpu = small_solov2();
  auto gpu = cuda_copy(*cpu);
  cpu->eval();
  gpu->eval();
  at::NoGradGuard ng;
  Batch b = solov2_scene(false);
  auto out_c = cpu->mask_head->forward(cpu->extract_feat(b.images));
  auto out_g = gpu->mask_head->forward(gpu->extract_feat(b.images.to(at::kCUDA)));
  for (int l = 0; l < 5; ++l) {
    EXPECT_LT(test::norm_rel(out_g.cls_preds[l].cpu(), out_c.cls_preds[l]), 1e-5) << "cls level " << l;
    EXPECT_LT(test::norm_rel(out_g.kernel_preds[l].cpu(), out_c.kernel_preds[l]), 1e-5) << "kernel level " << l;
  }
  EXPECT_LT(test::norm_rel(out_g.mask_feats.cpu(), out_c.mask_feats), 1e-5);
  // Post-processing alone, from identical inputs (the CPU head's outputs on CUDA).
  SOLOv2HeadOutputs same;
  for (const auto& t : out_c.cls_preds) same.cls_preds.push_back(t.to(at::kCUDA));
  for (const auto& t : out_c.kernel_preds) same.kernel_preds.push_back(t.to(at::kCUDA));
  same.mask_feats = out_c.mask_feats.to(at::kCUDA);
  auto res_c = solov2_postprocess(out_c, b.metas, cpu->options().mask_head);
  auto res_g = solov2_postprocess(same, b.metas, cpu->options().mask_head);
  ASSERT_GT(res_c[0].size(), 0) << "the scene must produce detections";
  expect_same_detections(res_g, res_c);
}

TEST(SOLOv2Cuda, PredictMatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  auto cpu = small_solov2();
  auto gpu = cuda_copy(*cpu);
  cpu->eval();
  gpu->eval();
  at::NoGradGuard ng;
  Batch b = solov2_scene(false);
  auto res_c = cpu->predict(b);
  Batch bg = b;
  bg.images = b.images.to(at::kCUDA);
  auto res_g = gpu->predict(bg);
  ASSERT_GT(res_c[0].size(), 0);
  expect_same_detections(res_g, res_c);
}

TEST(SOLOv2Cuda, TrainingStepMatchesCpu) {
  INSTSEG_REQUIRE_CUDA();
  auto cpu = small_solov2();
  auto gpu = cuda_copy(*cpu);
  OptimizerOptions oo;
  oo.type = "SGD";
  oo.lr = 0.01;
  oo.momentum = 0.9;
  oo.weight_decay = 1e-4;
  auto run = [&](std::shared_ptr<SOLOv2Impl> m, c10::Device dev, AmpDtype amp = AmpDtype::none) {
    TrainerOptions to;
    to.amp = amp;
    to.work_dir = test::temp_dir("solov2_cuda_step");
    to.device = dev;
    to.clip_max_norm = 35.0;
    to.tensorboard = to.json_scalars = to.log_file = to.progress_bar = false;
    Trainer t(m, build_optimizer(*m, oo), LrSchedule(), to);
    return t.run_step(batch_to_device(solov2_scene(true), dev));
  };
  const StepResult rc = run(cpu, c10::Device(c10::kCPU));
  const StepResult rg = run(gpu, c10::Device(c10::kCUDA));
  ASSERT_EQ(rg.values.size(), rc.values.size());
  for (size_t k = 0; k < rc.values.size(); ++k) {
    EXPECT_EQ(rg.values[k].first, rc.values[k].first);
    EXPECT_NEAR(rg.values[k].second, rc.values[k].second, 1e-4 * std::abs(rc.values[k].second) + 1e-6)
        << rc.values[k].first;
  }
  EXPECT_NEAR(rg.grad_norm, rc.grad_norm, 1e-3 * rc.grad_norm);
  // The updated weights (and so the gradients) agree.
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
    auto again = cuda_copy(*small_solov2());
    const StepResult ra = run(again, c10::Device(c10::kCUDA), amp);
    EXPECT_FALSE(ra.skipped);
    const double tol = amp == AmpDtype::fp16 ? 0.02 : 0.1;
    for (size_t k = 0; k < rg.values.size(); ++k) {
      EXPECT_TRUE(std::isfinite(ra.values[k].second)) << ra.values[k].first;
      if (ra.values[k].first.find("loss") == std::string::npos) continue;
      EXPECT_NEAR(ra.values[k].second, rg.values[k].second, tol * std::abs(rg.values[k].second) + 1e-3)
          << ra.values[k].first;
    }
  }
}

}  // namespace
}  // namespace instseg
