// Parity with mmdetection 3.3.0 on the shrunk SOLOv2 fixture (../shared/fixtures/solov2):
// head outputs, post-processing intermediates, final detections, losses and gradients.
#include "instseg/solov2/solov2.h"
#include "instseg/solov2/solov2_loss.h"
#include "instseg/solov2/solov2_postprocess.h"

#include "common/test_util.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <iomanip>

namespace instseg {
namespace {

std::string fx(const std::string& name) { return test::shared_path("fixtures/solov2/" + name); }

SOLOv2Options fixture_options() {
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

ImageMeta fixture_meta() {
  ImageMeta m;
  m.image_id = 0;
  m.ori_h = 360, m.ori_w = 480, m.img_h = 281, m.img_w = 375, m.pad_h = 288, m.pad_w = 384;
  m.scale_w = 0.78125, m.scale_h = 0.7805555555555556;
  return m;
}

SOLOv2Head load_head(const SOLOv2HeadOptions& o) {
  TensorDict ckpt = load_state_dict(fx("checkpoint.pth"));
  TensorDict head_sd;
  for (const auto& [k, v] : ckpt)
    if (k.rfind("mask_head.", 0) == 0) head_sd.set(k.substr(10), v);
  SOLOv2Head head(o);
  load_state_dict_into(*head, head_sd, /*strict=*/true);
  return head;
}

SOLOv2HeadOutputs fixture_head_outputs(const TensorDict& inter) {
  SOLOv2HeadOutputs out;
  for (int l = 0; l < 5; ++l) {
    out.cls_preds.push_back(inter.at("head.cls_preds." + std::to_string(l)));
    out.kernel_preds.push_back(inter.at("head.kernel_preds." + std::to_string(l)));
  }
  out.mask_feats = inter.at("head.mask_feats");
  return out;
}

// COCO compressed RLE (column-major) -> [h,w] uint8.
at::Tensor decode_rle(const std::string& s, int64_t h, int64_t w) {
  std::vector<int64_t> cnts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      const int64_t c = static_cast<int64_t>(s[p]) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(static_cast<int64_t>(1) << (5 * k));  // sign-extend
    }
    if (cnts.size() > 2) x += cnts[cnts.size() - 2];
    cnts.push_back(x);
  }
  at::Tensor flat = at::zeros({h * w}, at::kByte);
  auto* d = flat.data_ptr<uint8_t>();
  int64_t pos = 0;
  for (size_t i = 0; i < cnts.size(); ++i) {
    if (i % 2 == 1)
      for (int64_t j = 0; j < cnts[i]; ++j) d[pos + j] = 1;
    pos += cnts[i];
  }
  return flat.view({w, h}).t().contiguous();
}

double mask_iou(const at::Tensor& a, const at::Tensor& b) {
  const double inter = (a.ne(0) & b.ne(0)).sum().item<double>();
  const double uni = (a.ne(0) | b.ne(0)).sum().item<double>();
  return uni == 0 ? 1.0 : inter / uni;
}

void expect_results_match(const Instances& r) {
  std::ifstream f(fx("results.json"));
  nlohmann::json j = nlohmann::json::parse(f);
  const int64_t n = j["num"];
  ASSERT_EQ(n, 53);
  ASSERT_EQ(r.size(), n);
  double iou_sum = 0, iou_min = 1;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(r.labels[i].item<int64_t>(), j["labels"][i].get<int64_t>()) << i;
    EXPECT_NEAR(r.scores[i].item<double>(), j["scores"][i].get<double>(), 1e-5) << i;
    at::Tensor ref = decode_rle(j["masks_rle"][i]["counts"].get<std::string>(), 360, 480);
    EXPECT_EQ(ref.sum().item<int64_t>(), j["mask_areas"][i].get<int64_t>());
    const double iou = mask_iou(r.masks[i], ref);
    EXPECT_GE(iou, 0.995) << "instance " << i;
    iou_sum += iou;
    iou_min = std::min(iou_min, iou);
  }
  EXPECT_GE(iou_sum / n, 0.999);
  std::cout << "[ solov2 ] 53 detections: mask IoU mean " << iou_sum / n << ", min " << iou_min << "\n";
}

TEST(SOLOv2Fixture, HeadOutputs) {
  INSTSEG_REQUIRE_SHARED();
  torch::NoGradGuard ng;
  SOLOv2Options o = fixture_options();
  SOLOv2Head head = load_head(o.mask_head);
  head->eval();
  TensorDict inter = load_state_dict(fx("intermediates.pt"));
  std::vector<at::Tensor> feats;
  for (int l = 0; l < 5; ++l) feats.push_back(inter.at("neck." + std::to_string(l)));
  SOLOv2HeadOutputs out = head->forward(feats);
  for (int l = 0; l < 5; ++l) {
    const std::string s = std::to_string(l);
    const double rc = test::norm_rel(out.cls_preds[l], inter.at("head.cls_preds." + s));
    const double rk = test::norm_rel(out.kernel_preds[l], inter.at("head.kernel_preds." + s));
    EXPECT_LE(rc, 1e-5) << "cls level " << l;
    EXPECT_LE(rk, 1e-5) << "kernel level " << l;
    std::cout << "[ solov2 ] level " << l << " norm-rel cls " << rc << " kernel " << rk << "\n";
  }
  const double rm = test::norm_rel(out.mask_feats, inter.at("head.mask_feats"));
  EXPECT_LE(rm, 1e-5);
  std::cout << "[ solov2 ] mask_feats norm-rel " << rm << "\n";
}

TEST(SOLOv2Fixture, PostProcessing) {
  INSTSEG_REQUIRE_SHARED();
  torch::NoGradGuard ng;
  SOLOv2Options o = fixture_options();
  TensorDict inter = load_state_dict(fx("intermediates.pt"));
  TensorDict debug;
  auto res = solov2_postprocess(fixture_head_outputs(inter), {fixture_meta()}, o.mask_head, &debug);
  ASSERT_EQ(res.size(), 1u);
  for (const char* k : {"post.cls_scores_after_point_nms", "post.nms_in.scores", "post.nms_in.mask_area",
                        "post.nms_out.scores", "post.mask_preds_kept_soft"}) {
    ASSERT_EQ(debug.at(k).sizes(), inter.at(k).sizes()) << k;
    EXPECT_LE(test::norm_rel(debug.at(k), inter.at(k)), 1e-5) << k;
  }
  for (const char* k : {"post.nms_in.masks", "post.nms_in.labels", "post.nms_out.labels", "post.nms_out.keep_inds"}) {
    ASSERT_EQ(debug.at(k).sizes(), inter.at(k).sizes()) << k;
    EXPECT_TRUE(debug.at(k).to(at::kLong).equal(inter.at(k).to(at::kLong))) << k;
  }
  expect_results_match(res[0]);
  TensorDict results = load_state_dict(fx("results.pt"));
  EXPECT_TRUE(res[0].labels.equal(results.at("labels").to(at::kLong)));
  EXPECT_LE(test::max_abs_diff(res[0].scores, results.at("scores")), 1e-5);
  // Boxes are the masks' extents (mmdet gives zeros): inside the image and non-empty.
  EXPECT_TRUE(res[0].bboxes.select(1, 2).gt(res[0].bboxes.select(1, 0)).all().item<bool>());
  EXPECT_LE(res[0].bboxes.select(1, 2).max().item<double>(), 480.0);
}

TEST(SOLOv2Fixture, BatchedImagesOfDifferentSizes) {
  INSTSEG_REQUIRE_SHARED();
  torch::NoGradGuard ng;
  SOLOv2Options o = fixture_options();
  TensorDict inter = load_state_dict(fx("intermediates.pt"));
  SOLOv2HeadOutputs one = fixture_head_outputs(inter);
  SOLOv2HeadOutputs two;  // the fixture image twice in one padded batch
  for (int l = 0; l < 5; ++l) {
    two.cls_preds.push_back(at::cat({one.cls_preds[l], one.cls_preds[l]}));
    two.kernel_preds.push_back(at::cat({one.kernel_preds[l], one.kernel_preds[l]}));
  }
  two.mask_feats = at::cat({one.mask_feats, one.mask_feats});
  ImageMeta small = fixture_meta();
  small.img_h = 200, small.img_w = 300, small.ori_h = 100, small.ori_w = 150;
  auto res = solov2_postprocess(two, {fixture_meta(), small}, o.mask_head);
  ASSERT_EQ(res.size(), 2u);
  expect_results_match(res[0]);
  EXPECT_EQ(res[1].size(), 53);
  EXPECT_TRUE(res[1].scores.equal(res[0].scores));
  EXPECT_EQ(res[1].masks.sizes().vec(), (std::vector<int64_t>{53, 100, 150}));
  EXPECT_LE(res[1].bboxes.select(1, 2).max().item<double>(), 150.0);
}

Batch fixture_batch(bool with_gt) {
  TensorDict inputs = load_state_dict(fx("inputs.pt"));
  Batch b;
  b.images = inputs.at("input").to(at::kFloat);
  b.metas = {fixture_meta()};
  if (with_gt) {
    GtInstances gt;
    gt.bboxes = inputs.at("gt_bboxes_train").to(at::kFloat);
    gt.labels = inputs.at("gt_labels_train").to(at::kLong);
    gt.masks = inputs.at("gt_masks_train_padded").to(at::kByte);
    b.gts = {gt};
  }
  return b;
}

SOLOv2 load_model() {
  SOLOv2 model(fixture_options());
  load_state_dict_into(*model, load_state_dict(fx("checkpoint.pth")), /*strict=*/true);
  return model;
}

TEST(SOLOv2Fixture, EndToEndPredict) {
  INSTSEG_REQUIRE_SHARED();
  torch::NoGradGuard ng;
  SOLOv2 model = load_model();
  model->eval();
  TensorDict captured;
  model->set_capture(&captured);
  auto res = model->predict(fixture_batch(false));
  TensorDict inter = load_state_dict(fx("intermediates.pt"));
  for (int l = 0; l < 5; ++l) {
    const std::string s = std::to_string(l);
    EXPECT_LE(test::norm_rel(captured.at("solov2.cls_scores." + s), inter.at("head.cls_preds." + s)), 1e-5);
    EXPECT_LE(test::norm_rel(captured.at("solov2.kernel_preds." + s), inter.at("head.kernel_preds." + s)), 1e-5);
  }
  EXPECT_LE(test::norm_rel(captured.at("solov2.mask_feats"), inter.at("head.mask_feats")), 1e-5);
  ASSERT_EQ(res.size(), 1u);
  expect_results_match(res[0]);
}

TEST(SOLOv2Fixture, LossesAndGradients) {
  INSTSEG_REQUIRE_SHARED();
  SOLOv2 model = load_model();
  model->train();
  LossMap losses = model->forward_train(fixture_batch(true));
  TensorDict train = load_state_dict(fx("train.pt"));
  for (const char* k : {"loss_mask", "loss_cls"}) {
    const double ours = losses.at(k).item<double>();
    const double ref = train.at(std::string("loss.") + k).item<double>();
    EXPECT_LE(std::abs(ours - ref) / std::abs(ref), 1e-4) << k << " " << ours << " vs " << ref;
    std::cout << std::setprecision(9) << "[ solov2 ] " << k << " " << ours << " vs " << ref << "\n";
  }
  (losses.at("loss_mask") + losses.at("loss_cls")).backward();
  TensorDict params;
  for (const auto& item : model->named_parameters(true)) params.set(item.key(), item.value());
  std::ifstream f(fx("train.json"));
  nlohmann::json j = nlohmann::json::parse(f);
  for (const auto& key : j["full_grads_saved"]) {
    const std::string k = key.get<std::string>();
    ASSERT_TRUE(params.contains(k)) << k;
    const at::Tensor g = params.at(k).grad();
    ASSERT_TRUE(g.defined()) << k;
    const double r = test::norm_rel(g, train.at("grad." + k));
    EXPECT_LE(r, 1e-2) << k;
    std::cout << "[ solov2 ] grad " << k << " norm-rel " << r << "\n";
  }
  // Every parameter with a gradient upstream has one here, with the same L2 norm.
  int64_t n = 0;
  double worst = 0;
  for (const auto& [k, v] : j["grad_norms_l2"].items()) {
    ASSERT_TRUE(params.contains(k)) << k;
    const at::Tensor g = params.at(k).grad();
    ASSERT_TRUE(g.defined()) << k;
    const double ref = v.get<double>();
    const double ours = g.to(at::kDouble).norm().item<double>();
    const double rel = std::abs(ours - ref) / std::max(ref, 1e-12);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-2) << k;
    ++n;
  }
  EXPECT_EQ(n, 113);
  std::cout << "[ solov2 ] grad norms: " << n << " params, worst rel " << worst << "\n";
}

}  // namespace
}  // namespace instseg
