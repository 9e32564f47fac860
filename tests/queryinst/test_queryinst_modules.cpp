// QueryInst building blocks and contracts without the shared fixtures:
// mmdet state-dict keys of the full R50 model, DynamicConv's flatten order,
// mask targets / pasting by hand, box losses, and train/predict contracts
// (empty GT, one GT, more GTs than queries, batches).
#include "common/test_util.h"
#include "instseg/engine/amp.h"
#include "instseg/losses/box_losses.h"
#include "instseg/queryinst/queryinst.h"
#include "instseg/queryinst/queryinst_postprocess.h"
#include "queryinst/fixture_util.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace instseg {
namespace {

TEST(QueryInstR50, StateDictKeysShapesAndParameterCount) {
  auto model = QueryInst(queryinst_r50_fpn_options());
  std::ifstream f(test::data_path("queryinst/statedict_keys_queryinst_r50_fpn_1x_coco.json"));
  ASSERT_TRUE(f.good());
  auto j = nlohmann::json::parse(f);
  // Ours, in registration order (parameters then buffers per module, as Python).
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& p : model->named_parameters(true)) ours[p.key()] = p.value().sizes().vec();
  for (const auto& b : model->named_buffers(true)) ours[b.key()] = b.value().sizes().vec();
  int checked = 0, head_keys = 0;
  for (const auto& e : j["keys"]) {
    const std::string key = e["key"];
    const bool head = key.rfind("roi_head.", 0) == 0 || key.rfind("rpn_head.", 0) == 0;
    head_keys += head;
    auto it = ours.find(key);
    if (!head && it == ours.end()) continue;  // backbone/neck keys: the backbone helper's tests
    ASSERT_NE(it, ours.end()) << "missing " << key;
    EXPECT_EQ(it->second, e["shape"].get<std::vector<int64_t>>()) << key;
    ++checked;
  }
  int our_head_keys = 0;
  for (const auto& kv : ours) {
    our_head_keys += kv.first.rfind("roi_head.", 0) == 0 || kv.first.rfind("rpn_head.", 0) == 0;
  }
  EXPECT_EQ(our_head_keys, head_keys);
  EXPECT_EQ(static_cast<int64_t>(ours.size()), j["num_keys"].get<int64_t>());
  int64_t n = 0;
  for (const auto& p : model->parameters(true)) n += p.numel();
  EXPECT_EQ(n, j["num_params"].get<int64_t>());  // 172,688,808
}

TEST(DynamicConv, ProjectionFlattensPositionMajor) {
  torch::manual_seed(1);
  DynamicConvOptions o{4, 2, 3, 2, true};
  DynamicConv m(o);
  auto q = at::randn({2, 4});
  auto roi = at::randn({2, 4, 2, 2});
  auto y = m->forward(q, roi);
  // By hand: f[n, hw, c] = roi[n, c, hw]; two dynamic layers; flatten index hw*3 + c.
  auto params = m->dynamic_layer(q);
  auto pin = params.narrow(1, 0, 8).view({2, 4, 2});
  auto pout = params.narrow(1, 8, 6).view({2, 2, 3});
  auto f = roi.view({2, 4, 4}).transpose(1, 2);
  f = at::relu(at::layer_norm(at::bmm(f, pin), {2}, m->norm_in->weight, m->norm_in->bias));
  f = at::relu(at::layer_norm(at::bmm(f, pout), {3}, m->norm_out->weight, m->norm_out->bias));
  auto flat = at::empty({2, 12});
  for (int64_t hw = 0; hw < 4; ++hw)
    for (int64_t c = 0; c < 3; ++c) flat.select(1, hw * 3 + c).copy_(f.select(1, hw).select(1, c));
  auto e = at::relu(m->fc_norm(m->fc_layer(flat)));
  EXPECT_LT(test::max_abs_diff(y, e), 1e-6);
}

TEST(QueryInstPostprocess, PasteFullMaskFillsTheBox) {
  auto masks = at::ones({1, 28, 28});
  auto boxes = at::tensor({10.f, 10.f, 20.f, 20.f}).view({1, 4});
  auto m = paste_masks(masks, boxes, 40, 40, 0.5);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{1, 40, 40}));
  EXPECT_EQ(m.sum().item<int64_t>(), 100);
  EXPECT_EQ(m[0].slice(0, 10, 20).slice(1, 10, 20).sum().item<int64_t>(), 100);
  // A box outside the canvas pastes nothing.
  auto out = paste_masks(masks, at::tensor({50.f, 50.f, 60.f, 60.f}).view({1, 4}), 40, 40, 0.5);
  EXPECT_EQ(out.sum().item<int64_t>(), 0);
}

TEST(QueryInstPostprocess, MaskTargetsCutWithTheBox) {
  auto gt = at::zeros({2, 40, 50}, at::kByte);
  gt[1].slice(0, 8, 24).slice(1, 10, 30).fill_(1);
  // Box = the object: all ones; box shifted right by half: left half ones.
  auto boxes = at::tensor({10.f, 8.f, 30.f, 24.f, 20.f, 8.f, 40.f, 24.f, -5.f, -5.f, 60.f, 60.f})
                   .view({3, 4});
  auto t = queryinst_mask_targets(boxes, gt, at::tensor({1, 1, 0}, at::kLong), 28);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 28, 28}));
  EXPECT_EQ(t[0].sum().item<float>(), 28.f * 28.f);
  EXPECT_EQ(t[1].slice(1, 0, 14).sum().item<float>(), 28.f * 14.f);
  EXPECT_EQ(t[1].slice(1, 14, 28).sum().item<float>(), 0.f);
  EXPECT_EQ(t[2].sum().item<float>(), 0.f);  // GT 0 is empty (box clipped to the mask)
}

TEST(BoxLosses, HandComputed) {
  auto p = at::tensor({0.f, 0.f, 1.f, 1.f, 0.f, 0.f, 2.f, 2.f}).view({2, 4});
  auto t = at::tensor({0.5f, 0.f, 1.5f, 1.f, 0.f, 0.f, 2.f, 2.f}).view({2, 4});
  BoxLossOptions o;
  o.loss_weight = 5.0;
  // L1: |0.5|+|0.5| over 8 values, mean -> 1/8 * 5; with avg_factor 2 -> sum / 2.
  EXPECT_NEAR(l1_loss(p, t, o).item<double>(), 5.0 / 8.0, 1e-6);
  EXPECT_NEAR(l1_loss(p, t, o, {}, 2.0).item<double>(), 5.0 * 1.0 / 2.0, 1e-5);
  // GIoU: 1 - 1/3 and 1 - 1 -> mean 1/3.
  o.loss_weight = 2.0;
  EXPECT_NEAR(giou_loss(p, t, o).item<double>(), 2.0 * (2.0 / 3.0) / 2.0, 1e-6);
  // All-zero weights: a zero with a gradient path.
  auto z = giou_loss(p.clone().requires_grad_(true), t, o, at::zeros({2, 4}));
  EXPECT_EQ(z.item<float>(), 0.f);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_EQ(l1_loss(at::zeros({0, 4}), at::zeros({0, 4}), o).item<float>(), 0.f);
}

// A tiny random QueryInst (the fixture architecture) on a small synthetic batch.
struct TinyScene {
  QueryInst model{nullptr};
  Batch batch;
};
TinyScene tiny_scene(int64_t num_proposals, const std::vector<int64_t>& gts_per_image) {
  torch::manual_seed(11);
  auto o = test::queryinst_fixture_options();
  o.rpn_head.num_proposals = num_proposals;
  o.roi_head.max_per_img = num_proposals;
  TinyScene s;
  s.model = QueryInst(o);
  const int64_t b = static_cast<int64_t>(gts_per_image.size());
  s.batch.images = at::randn({b, 3, 64, 96});
  for (int64_t i = 0; i < b; ++i) {
    ImageMeta m;
    m.img_h = 60 - 4 * i;
    m.img_w = 90;
    m.pad_h = 64;
    m.pad_w = 96;
    m.ori_h = 120;
    m.ori_w = 180;
    m.scale_w = 0.5;
    m.scale_h = m.img_h / 120.0;
    s.batch.metas.push_back(m);
    GtInstances g;
    const int64_t n = gts_per_image[i];
    auto xy = at::rand({n, 2}) * 40;
    g.bboxes = at::cat({xy, xy + at::rand({n, 2}) * 30 + 8}, 1);
    g.labels = at::randint(0, 3, {n}, at::kLong);
    g.masks = at::zeros({n, 64, 96}, at::kByte);
    for (int64_t k = 0; k < n; ++k) {
      auto bx = g.bboxes[k];
      g.masks[k]
          .slice(0, bx[1].item<int64_t>(), bx[3].item<int64_t>())
          .slice(1, bx[0].item<int64_t>(), bx[2].item<int64_t>())
          .fill_(1);
    }
    s.batch.gts.push_back(g);
  }
  return s;
}

TEST(QueryInstContract, EmptyGtGivesClassLossOnly) {
  auto s = tiny_scene(8, {0});
  s.model->train();
  auto l = s.model->forward_train(s.batch);
  for (int st = 0; st < 6; ++st) {
    const std::string p = "s" + std::to_string(st) + ".";
    EXPECT_GT(l.at(p + "loss_cls").item<float>(), 0.f);
    EXPECT_EQ(l.at(p + "loss_bbox").item<float>(), 0.f);
    EXPECT_EQ(l.at(p + "loss_iou").item<float>(), 0.f);
    EXPECT_EQ(l.at(p + "loss_mask").item<float>(), 0.f);
  }
}

TEST(QueryInstContract, OneGtGivesAllLossesAndGradients) {
  auto s = tiny_scene(8, {1});
  s.model->train();
  TensorDict cap;
  s.model->set_capture(&cap);
  auto l = s.model->forward_train(s.batch);
  at::Tensor total = at::zeros({});
  for (const auto& kv : l) {
    if (kv.first.find("loss") == std::string::npos) continue;
    EXPECT_GT(kv.second.item<float>(), 0.f) << kv.first;
    EXPECT_TRUE(std::isfinite(kv.second.item<float>())) << kv.first;
    total = total + kv.second;
  }
  EXPECT_EQ((cap.at("queryinst.stage0.assigned_gt_inds") > 0).sum().item<int64_t>(), 1);
  total.backward();
  EXPECT_TRUE(s.model->rpn_head->init_proposal_features->weight.grad().defined());
  EXPECT_TRUE(s.model->rpn_head->init_proposal_bboxes->weight.grad().defined());
  EXPECT_FALSE(s.model->named_parameters()["backbone.conv1.weight"].grad().defined());  // frozen stem
}

TEST(QueryInstContract, TrainsUnderCpuBf16Autocast) {
  // CPU bf16 autocast (AmpOptimWrapper dtype=bfloat16) hands the DIIHead's and
  // DynamicConv's LayerNorms bf16 matmul outputs; LibTorch 1.13's CPU kernel
  // rejects those with fp32 weights unless normalised in fp32
  // (layers/autocast_norm.h). Losses must stay finite and close to fp32.
  auto s = tiny_scene(8, {3});
  // The forward numerics, without matching: predict's stage-0 outputs under
  // bf16 stay within bf16's precision of fp32 (8 mantissa bits, a few layers).
  s.model->eval();
  TensorDict p32, p16;
  s.model->set_capture(&p32);
  s.model->predict(s.batch);
  {
    AutocastGuard ac(c10::DeviceType::CPU, AmpDtype::bf16);
    s.model->set_capture(&p16);
    s.model->predict(s.batch);
  }
  for (const char* k : {"queryinst.stage0.cls_score", "queryinst.stage0.bboxes"}) {
    ASSERT_TRUE(p32.contains(k) && p16.contains(k)) << k;
    const double r = test::norm_rel(p16.at(k).to(at::kFloat), p32.at(k));
    std::cout << "[ bf16 ] " << k << " norm-rel " << r << "\n";
    EXPECT_LE(r, 0.05) << k;
  }
  s.model->train();
  TensorDict cap32, cap16;
  s.model->set_capture(&cap32);
  LossMap fp32 = s.model->forward_train(s.batch);
  LossMap bf16;
  {
    AutocastGuard ac(c10::DeviceType::CPU, AmpDtype::bf16);
    s.model->set_capture(&cap16);
    ASSERT_NO_THROW(bf16 = s.model->forward_train(s.batch));
  }
  s.model->set_capture(nullptr);
  // Stage 0 starts from the same learned proposals, but the Hungarian matching
  // of this random model has near-ties that bf16 rounding may break the other
  // way (LibTorch 2.6 does: queries 3,4,5 instead of 2,3,4), and then the
  // losses are of other pairs. So stage 0's losses are compared when its
  // assignment is the same; later stages decode diverging boxes (exp of
  // deltas) and are never compared.
  const std::string a0 = "queryinst.stage0.assigned_gt_inds";
  const bool same_assignment = cap32.at(a0).equal(cap16.at(a0));
  if (!same_assignment)
    std::cout << "[ bf16 ] stage-0 assignment differs from fp32's: losses checked for finiteness only\n";
  at::Tensor total = at::zeros({});
  for (const auto& kv : bf16) {
    if (kv.first.find("loss") == std::string::npos) continue;
    const float v = kv.second.item<float>(), ref = fp32.at(kv.first).item<float>();
    EXPECT_TRUE(std::isfinite(v)) << kv.first;
    if (same_assignment && kv.first.rfind("s0.", 0) == 0) {
      EXPECT_NEAR(v, ref, 0.05 * std::abs(ref) + 0.05) << kv.first;
    }
    total = total + kv.second;
  }
  total.backward();
  const at::Tensor g = s.model->rpn_head->init_proposal_features->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_TRUE(at::isfinite(g).all().item<bool>());
}

TEST(QueryInstContract, MoreGtsThanQueriesAndBatches) {
  auto s = tiny_scene(4, {7, 2});
  s.model->train();
  TensorDict cap;
  s.model->set_capture(&cap);
  auto l = s.model->forward_train(s.batch);
  auto a = cap.at("queryinst.stage5.assigned_gt_inds");
  ASSERT_EQ(a.size(0), 8);
  EXPECT_EQ((a.slice(0, 0, 4) > 0).sum().item<int64_t>(), 4);  // every query matched
  EXPECT_EQ((a.slice(0, 4, 8) > 0).sum().item<int64_t>(), 2);
  EXPECT_TRUE(std::isfinite(l.at("s5.loss_mask").item<float>()));
  // Inference on the same batch: one result per image at the original size.
  s.model->eval();
  auto dets = s.model->predict(s.batch);
  ASSERT_EQ(dets.size(), 2u);
  for (const auto& d : dets) {
    EXPECT_EQ(d.size(), 4);
    EXPECT_EQ(d.masks.sizes(), (std::vector<int64_t>{4, 120, 180}));
    EXPECT_TRUE(at::equal(std::get<0>(d.scores.sort(0, true)), d.scores));
    EXPECT_TRUE((d.labels >= 0).all().item<bool>() && (d.labels < 3).all().item<bool>());
  }
}

TEST(SparseRCNN, WithoutMaskHeads) {
  auto o = test::queryinst_fixture_options();
  o.roi_head.with_mask = false;
  QueryInst m(o);
  for (const auto& p : m->named_parameters(true)) {
    EXPECT_EQ(p.key().find("mask_head"), std::string::npos) << p.key();
  }
  auto s = tiny_scene(5, {2});
  auto o2 = o;
  o2.rpn_head.num_proposals = 5;
  o2.roi_head.max_per_img = 5;
  QueryInst sr(o2);
  sr->train();
  auto l = sr->forward_train(s.batch);
  EXPECT_FALSE(l.contains("s0.loss_mask"));
  EXPECT_EQ(l.size(), 24u);
  sr->eval();
  auto d = sr->predict(s.batch);
  EXPECT_EQ(d[0].size(), 5);
}

}  // namespace
}  // namespace instseg
