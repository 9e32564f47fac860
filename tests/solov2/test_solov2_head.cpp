// Module structure (state-dict keys), init, and mmdet's head contract tests.
#include "instseg/solov2/solov2.h"
#include "instseg/solov2/solov2_head.h"
#include "instseg/solov2/solov2_loss.h"
#include "instseg/solov2/solov2_postprocess.h"

#include "common/test_util.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/autocast.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

namespace instseg {
namespace {

TEST(SOLOv2Head, R50KeysAndShapesEqualMmdet) {
  std::ifstream f(test::data_path("solov2/statedict_keys_solov2_r50_fpn_1x_coco.json"));
  ASSERT_TRUE(f.good());
  nlohmann::json j = nlohmann::json::parse(f);
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  int64_t head_params = 0;
  for (const auto& e : j["keys"]) {
    const std::string key = e["key"];
    if (key.rfind("mask_head.", 0) != 0) continue;
    std::vector<int64_t> shape = e["shape"].get<std::vector<int64_t>>();
    expected.emplace_back(key.substr(10), shape);
    int64_t n = 1;
    for (auto s : shape) n *= s;
    head_params += n;
  }
  const SOLOv2HeadOptions r50;  // defaults = solov2_r50_fpn_1x_coco
  SOLOv2Head head(r50);
  TensorDict sd = module_state_dict(*head);
  ASSERT_EQ(sd.size(), expected.size());
  int64_t ours = 0;
  size_t i = 0;
  for (const auto& [key, t] : sd) {
    EXPECT_EQ(key, expected[i].first) << "at position " << i;
    EXPECT_EQ(t.sizes().vec(), expected[i].second) << key;
    ours += t.numel();
    ++i;
  }
  EXPECT_EQ(ours, head_params);  // towers 18.08 M + mask features 1.66 M
  EXPECT_NEAR(static_cast<double>(ours), 19.74e6, 0.01e6);
}

TEST(SOLOv2Head, FullR50ModelKeysAndParameterCount) {
  std::ifstream f(test::data_path("solov2/statedict_keys_solov2_r50_fpn_1x_coco.json"));
  nlohmann::json j = nlohmann::json::parse(f);
  const SOLOv2Options r50;  // ResNet-50 + FPN(256) + the R50 head
  SOLOv2 model(r50);
  TensorDict sd = module_state_dict(*model);
  ASSERT_EQ(static_cast<int64_t>(sd.size()), j["num_keys"].get<int64_t>());
  int64_t params = 0;
  size_t i = 0;
  for (const auto& [key, t] : sd) {
    EXPECT_EQ(key, j["keys"][i]["key"].get<std::string>()) << "at position " << i;
    EXPECT_EQ(t.sizes().vec(), j["keys"][i]["shape"].get<std::vector<int64_t>>()) << key;
    ++i;
  }
  for (const auto& p : model->parameters(true)) params += p.numel();
  EXPECT_EQ(params, j["num_params"].get<int64_t>());  // 46,592,912
}

TEST(SOLOv2Head, InitAndOfficialKeyRenames) {
  SOLOv2HeadOptions o;
  o.in_channels = 32;
  o.feat_channels = 32;
  o.mask_feature_head.feat_channels = 32;
  o.mask_feature_head.out_channels = 32;
  SOLOv2Head head(o);
  EXPECT_NEAR(head->conv_cls->bias[0].item<double>(), -4.59512, 1e-4);
  EXPECT_NEAR(head->conv_kernel->weight.std().item<double>(), 0.01, 0.001);
  EXPECT_EQ(solov2_rename_official_key("bbox_head.cate_convs.3.gn.weight"), "mask_head.cls_convs.3.gn.weight");
  EXPECT_EQ(solov2_rename_official_key("bbox_head.kernel_convs.0.conv.weight"), "mask_head.kernel_convs.0.conv.weight");
  EXPECT_EQ(solov2_rename_official_key("bbox_head.solo_cate.bias"), "mask_head.conv_cls.bias");
  EXPECT_EQ(solov2_rename_official_key("bbox_head.solo_kernel.weight"), "mask_head.conv_kernel.weight");
  EXPECT_EQ(solov2_rename_official_key("mask_feat_head.convs_all_levels.0.conv0.gn.bias"),
            "mask_head.mask_feature_head.convs_all_levels.0.conv0.gn.bias");
  EXPECT_EQ(solov2_rename_official_key("mask_feat_head.conv_pred.0.conv.weight"),
            "mask_head.mask_feature_head.conv_pred.conv.weight");
  EXPECT_EQ(solov2_rename_official_key("neck.lateral_convs.0.conv.bias"), "neck.lateral_convs.0.conv.bias");
}

// A small head on random FPN features of a 64x96 padded batch.
struct Tiny {
  SOLOv2HeadOptions o;
  SOLOv2Head head{nullptr};
  std::vector<at::Tensor> feats;
  explicit Tiny(int64_t B = 1) {
    o.num_classes = 3;
    o.in_channels = 32;
    o.feat_channels = 32;
    o.mask_feature_head.feat_channels = 32;
    o.mask_feature_head.out_channels = 32;
    torch::manual_seed(0);
    head = SOLOv2Head(o);
    const int64_t H = 64, W = 96;
    for (int64_t s : {4, 8, 16, 32, 64})
      feats.push_back(at::randn({B, 32, (H + s - 1) / s, (W + s - 1) / s}));
  }
};

GtInstances make_gt(int n) {
  GtInstances gt;
  gt.bboxes = at::zeros({n, 4});
  gt.labels = at::zeros({n}, at::kLong);
  gt.masks = at::zeros({n, 64, 96}, at::kByte);
  for (int i = 0; i < n; ++i) {
    gt.bboxes[i] = at::tensor({10.f + 20 * i, 8.f, 40.f + 20 * i, 40.f});
    gt.labels[i] = i % 3;
    gt.masks[i].slice(0, 8, 40).slice(1, 10 + 20 * i, 40 + 20 * i).fill_(1);
  }
  return gt;
}

TEST(SOLOv2Head, ForwardShapes) {
  Tiny t(2);
  SOLOv2HeadOutputs out = t.head->forward(t.feats);
  const std::vector<int64_t> grids{40, 36, 24, 16, 12};
  for (int l = 0; l < 5; ++l) {
    EXPECT_EQ(out.cls_preds[l].sizes().vec(), (std::vector<int64_t>{2, 3, grids[l], grids[l]}));
    EXPECT_EQ(out.kernel_preds[l].sizes().vec(), (std::vector<int64_t>{2, 32, grids[l], grids[l]}));
  }
  EXPECT_EQ(out.mask_feats.sizes().vec(), (std::vector<int64_t>{2, 32, 16, 24}));
}

// set_fp32_category (InferenceGraphOptions::autocast_fp32_category): under CPU
// bf16 autocast the category branch computes exactly what fp32 computes from
// the same features, the kernel branch still runs in bf16 (the mask feature
// branch too, though its output is fp32: it ends in GroupNorm, which
// normalises in fp32, layers/autocast_norm.h);
// with bf16 features (no fp32 neck outputs) it casts them instead of failing
// on a dtype mismatch; training ignores it.
TEST(SOLOv2Head, Fp32CategoryBranchUnderAutocast) {
  Tiny t(1);
  t.head->eval();
  at::NoGradGuard ng;
  const SOLOv2HeadOutputs ref = t.head->forward(t.feats);
  auto bf16_run = [&](bool fp32_category, const std::vector<at::Tensor>& feats) {
    t.head->set_fp32_category(fp32_category);
    AutocastGuard ac(c10::DeviceType::CPU, AmpDtype::bf16);
    SOLOv2HeadOutputs out = t.head->forward(feats);
    at::autocast::clear_cache();
    return out;
  };
  const SOLOv2HeadOutputs on = bf16_run(true, t.feats), off = bf16_run(false, t.feats);
  for (int l = 0; l < 5; ++l) {
    ASSERT_EQ(on.cls_preds[l].scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(on.cls_preds[l], ref.cls_preds[l])) << "level " << l;
    EXPECT_EQ(off.cls_preds[l].scalar_type(), at::kBFloat16);
    EXPECT_EQ(on.kernel_preds[l].scalar_type(), at::kBFloat16);
  }
  std::vector<at::Tensor> bf16_feats;
  for (const at::Tensor& f : t.feats) bf16_feats.push_back(f.to(at::kBFloat16));
  EXPECT_EQ(bf16_run(true, bf16_feats).cls_preds[0].scalar_type(), at::kFloat);
  t.head->train();
  EXPECT_EQ(bf16_run(true, t.feats).cls_preds[0].scalar_type(), at::kBFloat16) << "inference only";
  t.head->set_fp32_category(false);
}

// dcn_cfg / dcn_apply_to_all_conv and the mask feature head's conv_cfg, the
// way mmdet's SOLOV2Head and MaskFeatModule pass them to their ConvModules.
TEST(SOLOv2Head, DeformableTowersAndMaskFeatures) {
  auto count_offsets = [](SOLOv2Head& h, const std::string& prefix) {
    int n = 0;
    for (const auto& [key, t] : module_state_dict(*h))
      if (key.rfind(prefix, 0) == 0 && key.find(".conv.conv_offset.weight") != std::string::npos) ++n;
    return n;
  };
  {
    Tiny t;  // plain
    EXPECT_EQ(count_offsets(t.head, ""), 0);
  }
  SOLOv2HeadOptions o = Tiny().o;
  o.dcn_type = "DCNv2";
  o.mask_feature_head.conv_type = "DCNv2";
  SOLOv2Head all(o);
  EXPECT_EQ(count_offsets(all, "kernel_convs."), 4);
  EXPECT_EQ(count_offsets(all, "cls_convs."), 4);
  EXPECT_EQ(count_offsets(all, "mask_feature_head."), 8);  // 7 level convs + conv_pred
  TensorDict sd = module_state_dict(*all);
  // mmcv key order and shapes: weight, conv_offset (3 * 3*3 channels), no bias under GN.
  EXPECT_EQ(sd.at("kernel_convs.0.conv.conv_offset.weight").sizes().vec(),
            (std::vector<int64_t>{27, 34, 3, 3}));
  EXPECT_EQ(sd.at("mask_feature_head.conv_pred.conv.conv_offset.weight").sizes().vec(),
            (std::vector<int64_t>{3, 32, 1, 1}));
  EXPECT_FALSE(sd.contains("kernel_convs.0.conv.bias"));
  // mmdet's init: Normal(layer='Conv2d', std=0.01) reaches conv_offset (an
  // nn.Conv2d), not the deformable weight, which keeps mmcv's uniform init.
  const at::Tensor off = sd.at("cls_convs.1.conv.conv_offset.weight");
  EXPECT_NEAR(off.std().item<double>(), 0.01, 0.002);
  const at::Tensor w = sd.at("cls_convs.1.conv.weight");
  const double bound = 1.0 / std::sqrt(32.0 * 9.0);
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_GT(w.std().item<double>(), 0.5 * bound);

  // Light head: only the last conv of each tower, the mask features plain.
  SOLOv2HeadOptions light = Tiny().o;
  light.stacked_convs = 3;
  light.dcn_type = "DCNv2";
  light.dcn_apply_to_all_conv = false;
  SOLOv2Head lh(light);
  EXPECT_EQ(count_offsets(lh, "kernel_convs.2."), 1);
  EXPECT_EQ(count_offsets(lh, "cls_convs.2."), 1);
  EXPECT_EQ(count_offsets(lh, ""), 2);

  // With zero offsets and a saturated modulation (sigmoid(40) == 1 in float)
  // the deformable head computes the plain head's function.
  Tiny plain;
  torch::NoGradGuard no_grad;
  TensorDict dsd = module_state_dict(*all);
  for (const auto& [key, t] : module_state_dict(*plain.head)) dsd.at(key).copy_(t);
  for (auto& [key, t] : dsd) {
    if (key.find("conv_offset.weight") != std::string::npos) t.zero_();
    if (key.find("conv_offset.bias") != std::string::npos) {
      const int64_t taps = t.size(0) / 3;
      t.zero_();
      t.narrow(0, 2 * taps, taps).fill_(40.0);
    }
  }
  SOLOv2HeadOutputs a = plain.head->forward(plain.feats), b = all->forward(plain.feats);
  EXPECT_LT(test::max_abs_diff(a.mask_feats, b.mask_feats), 1e-4);
  for (int l = 0; l < 5; ++l) {
    EXPECT_LT(test::max_abs_diff(a.kernel_preds[l], b.kernel_preds[l]), 1e-4) << l;
    EXPECT_LT(test::max_abs_diff(a.cls_preds[l], b.cls_preds[l]), 1e-4) << l;
  }
  // ...and non-zero offsets change it.
  for (auto& [key, t] : dsd)
    if (key.find("conv_offset.bias") != std::string::npos) t.narrow(0, 0, t.size(0) / 3).fill_(0.5);
  SOLOv2HeadOutputs c = all->forward(plain.feats);
  EXPECT_GT(test::max_abs_diff(a.mask_feats, c.mask_feats), 1e-3);
}

TEST(SOLOv2Head, EmptyGtGivesClsLossAndZeroMaskLoss) {
  Tiny t;
  SOLOv2HeadOutputs out = t.head->forward(t.feats);
  LossMap l = solov2_loss(out, {make_gt(0)}, t.o);
  EXPECT_GT(l.at("loss_cls").item<double>(), 0.0);
  EXPECT_EQ(l.at("loss_mask").item<double>(), 0.0);
  (l.at("loss_cls") + l.at("loss_mask")).backward();  // trains without error
  EXPECT_TRUE(t.head->conv_cls->weight.grad().defined());
}

TEST(SOLOv2Head, OneGtGivesBothLossesPositive) {
  Tiny t;
  SOLOv2HeadOutputs out = t.head->forward(t.feats);
  std::vector<std::vector<SOLOv2LevelTargets>> targets;
  LossMap l = solov2_loss(out, {make_gt(1)}, t.o, &targets);
  EXPECT_GT(l.at("loss_cls").item<double>(), 0.0);
  EXPECT_GT(l.at("loss_mask").item<double>(), 0.0);
  EXPECT_FALSE(targets[0][0].pos_index.empty());
  (l.at("loss_cls") + l.at("loss_mask")).backward();
  EXPECT_GT(t.head->conv_kernel->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(t.head->mask_feature_head->conv_pred->conv->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(SOLOv2Head, BatchWithEmptyAndNonEmptyImages) {
  Tiny t(2);
  SOLOv2HeadOutputs out = t.head->forward(t.feats);
  LossMap l = solov2_loss(out, {make_gt(0), make_gt(3)}, t.o);
  EXPECT_GT(l.at("loss_mask").item<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(l.at("loss_cls").item<double>()));
}

TEST(SOLOv2Head, NothingAboveThresholdGivesZeroInstances) {
  Tiny t(2);
  torch::NoGradGuard ng;
  SOLOv2HeadOutputs out = t.head->forward(t.feats);
  ImageMeta m;
  m.img_h = 60, m.img_w = 90, m.ori_h = 120, m.ori_w = 180, m.pad_h = 64, m.pad_w = 96;
  // Prior bias -4.6 -> scores ~0.01 < score_thr 0.1.
  auto res = solov2_postprocess(out, {m, m}, t.o);
  ASSERT_EQ(res.size(), 2u);
  for (const auto& r : res) {
    EXPECT_EQ(r.size(), 0);
    EXPECT_EQ(r.masks.sizes().vec(), (std::vector<int64_t>{0, 120, 180}));
    EXPECT_EQ(r.bboxes.sizes().vec(), (std::vector<int64_t>{0, 4}));
  }
}

TEST(SOLOv2Head, MasksToBoxes) {
  at::Tensor m = at::zeros({2, 5, 6}, at::kByte);
  m[0].slice(0, 1, 3).slice(1, 2, 5).fill_(1);
  at::Tensor b = masks_to_boxes_xyxy(m);
  EXPECT_TRUE(b[0].equal(at::tensor({2.f, 1.f, 5.f, 3.f})));
  EXPECT_TRUE(b[1].equal(at::zeros({4})));
}

}  // namespace
}  // namespace instseg
