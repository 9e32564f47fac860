// QueryInst parity with mmdetection 3.3.0 on the shared golden fixtures
// (../shared/fixtures/queryinst, README section 3): intermediates, Hungarian
// assignments, detections, losses and gradients.
#include "common/test_util.h"
#include "instseg/eval/rle.h"
#include "instseg/ops/multi_level_roi_align.h"
#include "instseg/queryinst/queryinst.h"
#include "queryinst/fixture_util.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace instseg {
namespace {

using test::norm_rel;

// Every feature map / logit within relative error 1e-5 (norm-relative).
double g_worst_rel = 0;  // worst norm-rel seen by expect_close (printed per test)
void expect_close(const at::Tensor& got, const at::Tensor& want, double tol,
                  const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.numel(), want.numel()) << what << ": " << got.sizes() << " vs " << want.sizes();
  auto g = got.reshape(want.sizes());
  double r = norm_rel(g, want);
  g_worst_rel = std::max(g_worst_rel, r);
  EXPECT_LE(r, tol) << what << ": norm-rel " << r << ", max abs " << test::max_abs_diff(g, want);
}

class QueryInstFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::have_shared()) return;
    model_ = new QueryInst(test::load_queryinst_fixture_model());
    inter_ = new TensorDict(test::load_queryinst_pt("intermediates.pt"));
    capture_ = new TensorDict();
    auto batch = test::queryinst_fixture_batch(false);
    (*model_)->set_capture(capture_);
    dets_ = new std::vector<Instances>((*model_)->predict(batch));
    (*model_)->set_capture(nullptr);
  }
  void SetUp() override { g_worst_rel = 0; }
  void TearDown() override {
    std::cout << "[ queryinst ] worst norm-rel in this test: " << g_worst_rel << "\n";
  }
  static void TearDownTestSuite() {
    delete model_;
    delete inter_;
    delete capture_;
    delete dets_;
  }
  std::vector<at::Tensor> fixture_neck() const {
    std::vector<at::Tensor> f;
    for (int i = 0; i < 4; ++i) f.push_back(inter_->at("neck." + std::to_string(i)));
    return f;
  }
  static QueryInst* model_;
  static TensorDict* inter_;
  static TensorDict* capture_;
  static std::vector<Instances>* dets_;
};
QueryInst* QueryInstFixture::model_ = nullptr;
TensorDict* QueryInstFixture::inter_ = nullptr;
TensorDict* QueryInstFixture::capture_ = nullptr;
std::vector<Instances>* QueryInstFixture::dets_ = nullptr;

TEST_F(QueryInstFixture, BackboneNeckAndProposals) {
  INSTSEG_REQUIRE_SHARED();
  for (int i = 0; i < 4; ++i) {
    expect_close(capture_->at("backbone.c" + std::to_string(i + 2)),
                 inter_->at("backbone." + std::to_string(i)), 1e-5, "backbone");
    expect_close(capture_->at("neck.p" + std::to_string(i + 2)),
                 inter_->at("neck." + std::to_string(i)), 1e-5, "neck");
  }
  auto p = (*model_)->rpn_head->forward({{281, 375}});
  expect_close(p.bboxes, inter_->at("rpn.proposal_bboxes"), 1e-7, "proposal boxes");
  expect_close(p.features, inter_->at("rpn.proposal_features"), 0, "proposal features");
  expect_close(p.imgs_whwh.expand({1, 20, 4}), inter_->at("rpn.imgs_whwh"), 0, "whwh");
}

TEST_F(QueryInstFixture, RoIAlignOnFixtureFeatures) {
  INSTSEG_REQUIRE_SHARED();
  const auto& o = (*model_)->roi_head->options();
  auto bbox = multi_level_roi_align(fixture_neck(), inter_->at("stage0.rois_in"), o.bbox_roi);
  expect_close(bbox, inter_->at("stage0.bbox_roi_feats"), 1e-6, "bbox roi feats");
  auto mask =
      multi_level_roi_align(fixture_neck(), inter_->at("predict.mask_stage5.rois"), o.mask_roi);
  expect_close(mask, inter_->at("stage5.mask_roi_feats"), 1e-6, "mask roi feats");
}

// Each stage alone, fed the fixture's inputs: isolates every stage's numerics.
TEST_F(QueryInstFixture, EachStageFromFixtureInputs) {
  INSTSEG_REQUIRE_SHARED();
  torch::NoGradGuard ng;
  auto& head = (*model_)->roi_head;
  for (int s = 0; s < 6; ++s) {
    const std::string p = "stage" + std::to_string(s) + ".";
    SCOPED_TRACE(p);
    auto boxes = inter_->at(p + "rois_in").narrow(1, 1, 4).unsqueeze(0);
    auto out = head->stage_forward(s, fixture_neck(), boxes, inter_->at(p + "object_feats_in"));
    expect_close(out.cls_score, inter_->at(p + "cls_score"), 1e-5, p + "cls_score");
    expect_close(out.attn_feats, inter_->at(p + "attn_feats"), 1e-5, p + "attn_feats");
    expect_close(out.obj_feat, inter_->at(p + "object_feats"), 1e-5, p + "object_feats");
    expect_close(out.bboxes, inter_->at(p + "decoded_bboxes"), 1e-5, p + "decoded_bboxes");
    // Mask head s on the stage's decoded boxes and attention features.
    auto dec = inter_->at(p + "decoded_bboxes");
    auto rois = at::cat({at::zeros({dec.size(0), 1}), dec}, 1);
    auto ml = head->mask_forward(s, fixture_neck(), rois, inter_->at(p + "attn_feats").view({-1, 64}));
    expect_close(ml, inter_->at(p + "mask_preds"), 1e-4, p + "mask_preds");
  }
}

TEST_F(QueryInstFixture, EndToEndIntermediates) {
  INSTSEG_REQUIRE_SHARED();
  for (int s = 0; s < 6; ++s) {
    const std::string q = "queryinst.stage" + std::to_string(s) + ".";
    const std::string p = "stage" + std::to_string(s) + ".";
    expect_close(capture_->at(q + "cls_score"), inter_->at(p + "cls_score"), 1e-5, q + "cls");
    expect_close(capture_->at(q + "bboxes"), inter_->at(p + "decoded_bboxes"), 1e-5, q + "boxes");
    expect_close(capture_->at(q + "obj_feat"), inter_->at(p + "object_feats"), 1e-5, q + "obj");
  }
  expect_close(capture_->at("queryinst.mask_logits"), inter_->at("stage5.mask_preds"), 1e-4,
               "mask logits");
}

TEST_F(QueryInstFixture, DetectionsMatchAfterSortingByScore) {
  INSTSEG_REQUIRE_SHARED();
  std::ifstream f(test::shared_path("fixtures/queryinst/results.json"));
  auto j = nlohmann::json::parse(f);
  const auto& det = (*dets_)[0];
  const int64_t n = j["num"].get<int64_t>();
  ASSERT_EQ(det.size(), n);
  std::vector<int64_t> order = j["order_by_score_desc"].get<std::vector<int64_t>>();
  // Ours is already sorted by descending score.
  EXPECT_TRUE(at::equal(std::get<0>(det.scores.sort(0, true)), det.scores));
  double iou_sum = 0, iou_min = 1;
  for (int64_t k = 0; k < n; ++k) {
    const auto& e = j["masks_rle"][order[k]];
    SCOPED_TRACE(k);
    EXPECT_EQ(det.labels[k].item<int64_t>(), j["labels"][order[k]].get<int64_t>());
    EXPECT_NEAR(det.scores[k].item<double>(), j["scores"][order[k]].get<double>(), 1e-5);
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(det.bboxes[k][c].item<double>(), j["bboxes"][order[k]][c].get<double>(), 1e-3);
    }
    const int64_t h = e["size"][0], w = e["size"][1];
    ASSERT_EQ(det.masks.size(1), h);
    ASSERT_EQ(det.masks.size(2), w);
    auto r = rle::from_string(e["counts"].get<std::string>(), h, w);
    auto want = at::zeros({h, w}, at::kByte);
    rle::decode(r, want.data_ptr<uint8_t>());
    auto got = det.masks[k].to(at::kBool);
    auto wb = want.to(at::kBool);
    const double inter = (got & wb).sum().item<double>();
    const double uni = (got | wb).sum().item<double>();
    const double iou = uni > 0 ? inter / uni : 1.0;
    EXPECT_GE(iou, 0.995);
    iou_sum += iou;
    iou_min = std::min(iou_min, iou);
  }
  EXPECT_GE(iou_sum / n, 0.999);
  std::cout << "[ queryinst ] detections: " << n << ", mask IoU min " << iou_min << " mean "
            << iou_sum / n << "\n";
}

TEST(QueryInstTrainFixture, LossesAssignmentsAndGradients) {
  INSTSEG_REQUIRE_SHARED();
  auto model = test::load_queryinst_fixture_model();
  model->train();
  auto want = test::load_queryinst_pt("train.pt");
  auto batch = test::queryinst_fixture_batch(true);
  TensorDict cap;
  model->set_capture(&cap);
  auto losses = model->forward_train(batch);
  // Assignments identical at every stage.
  for (int s = 0; s < 6; ++s) {
    const std::string k = "stage" + std::to_string(s) + ".assigned_gt_inds";
    EXPECT_TRUE(at::equal(cap.at("queryinst." + k), want.at(k))) << k;
  }
  // Every loss within 1e-4 relative.
  at::Tensor total = at::zeros({});
  double worst = 0;
  for (const auto& kv : losses) {
    ASSERT_TRUE(want.contains("loss." + kv.first)) << kv.first;
    auto w = want.at("loss." + kv.first).to(at::kDouble).reshape({});
    auto g = kv.second.detach().to(at::kDouble).reshape({});
    double rel = std::abs((g - w).item<double>()) / std::max(std::abs(w.item<double>()), 1e-12);
    EXPECT_LE(rel, 1e-4) << kv.first << ": " << g.item<double>() << " vs " << w.item<double>();
    if (kv.first.find("loss") != std::string::npos) {
      worst = std::max(worst, rel);
      total = total + kv.second;
    }
  }
  EXPECT_EQ(losses.size(), 30u);
  EXPECT_NEAR(total.item<double>(), want.at("loss.total").item<double>(),
              1e-4 * want.at("loss.total").item<double>());
  total.backward();
  // Full gradients of the saved parameters and L2 norms of all of them.
  auto params = model->named_parameters(true);
  double worst_grad = 0;
  int compared = 0;
  for (const auto& kv : want) {
    if (kv.first.rfind("grad.", 0) != 0) continue;
    const std::string name = kv.first.substr(5);
    ASSERT_TRUE(params.contains(name)) << name;
    const auto& g = params[name].grad();
    ASSERT_TRUE(g.defined()) << name;
    double r = norm_rel(g, kv.second);
    EXPECT_LE(r, 1e-2) << name;
    worst_grad = std::max(worst_grad, r);
    ++compared;
  }
  EXPECT_EQ(compared, 10);
  std::ifstream f(test::shared_path("fixtures/queryinst/train.json"));
  auto j = nlohmann::json::parse(f);
  int with_grad = 0;
  double worst_norm = 0;
  for (const auto& p : params) {
    if (!p.value().grad().defined()) continue;
    ++with_grad;
    ASSERT_TRUE(j["grad_norms_l2"].contains(p.key())) << p.key() << " has a gradient upstream lacks";
    const double want_n = j["grad_norms_l2"][p.key()].get<double>();
    const double got_n = p.value().grad().to(at::kDouble).norm().item<double>();
    const double r = std::abs(got_n - want_n) / std::max(want_n, 1e-12);
    EXPECT_LE(r, 1e-2) << p.key() << ": " << got_n << " vs " << want_n;
    worst_norm = std::max(worst_norm, r);
  }
  EXPECT_EQ(with_grad, static_cast<int>(j["grad_norms_l2"].size()));
  std::cout << "[ queryinst ] worst loss rel " << worst << ", worst full-grad norm-rel "
            << worst_grad << ", worst grad-norm rel " << worst_norm << " over " << with_grad
            << " params\n";
}

}  // namespace
}  // namespace instseg
