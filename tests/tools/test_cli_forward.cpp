// `instseg forward` against mmdetection's golden outputs
// (../shared/fixtures/{solov2,queryinst}): every named tensor, the
// detections, the losses and the gradients, through the real CLI binary.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <numeric>

#include "common/test_util.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/eval/rle.h"

namespace instseg {
namespace {

TensorDict read_dict(const std::string& path) {
  PthFile f = read_pth(path);
  return tensor_entries(f.root, /*strip_module=*/false);
}

// Runs `instseg forward` on a fixture folder; returns OUT.pt's tensors.
TensorDict run_forward(const std::string& fixture, bool with_gt) {
  const std::string dir = test::shared_path("fixtures/" + fixture);
  const std::string out = test::temp_dir("fwd_" + fixture) + "/out.pt";
  std::string cmd = test::instseg_binary() + " --log-level warning forward --config " + dir + "/config.json" +
                    " --checkpoint " + dir + "/checkpoint.pth --input " + dir + "/forward_in.pt --out " + out;
  if (with_gt) cmd += " --gt " + dir + "/forward_gt.pt";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  return read_dict(out);
}

void expect_close(const TensorDict& ours, const std::string& our_key, const TensorDict& ref,
                  const std::string& ref_key, double tol) {
  ASSERT_TRUE(ours.contains(our_key)) << "missing " << our_key;
  ASSERT_TRUE(ref.contains(ref_key)) << "fixture lacks " << ref_key;
  at::Tensor a = ours.at(our_key), b = ref.at(ref_key);
  ASSERT_EQ(a.numel(), b.numel()) << our_key << " " << a.sizes() << " vs " << b.sizes();
  double r = test::norm_rel(a.reshape(b.sizes()), b);
  EXPECT_LE(r, tol) << our_key << " vs " << ref_key;
}

std::vector<at::Tensor> fixture_masks(const std::string& fixture) {
  std::ifstream in(test::shared_path("fixtures/" + fixture + "/results.json"));
  auto j = nlohmann::json::parse(in);
  std::vector<at::Tensor> masks;
  for (const auto& m : j["masks_rle"]) {
    int64_t h = m["size"][0], w = m["size"][1];
    auto r = rle::from_string(m["counts"].get<std::string>(), h, w);
    at::Tensor t = at::empty({h, w}, at::kByte);
    rle::decode(r, t.data_ptr<uint8_t>());
    masks.push_back(t);
  }
  return masks;
}

double mask_iou(const at::Tensor& a, const at::Tensor& b) {
  auto a1 = a.to(at::kBool), b1 = b.to(at::kBool);
  double inter = (a1 & b1).sum().item<double>(), uni = (a1 | b1).sum().item<double>();
  return uni == 0 ? 1.0 : inter / uni;
}

// Detections sorted by score (QueryInst's fixture is in topk(sorted=False) order).
void check_detections(const TensorDict& out, const std::string& fixture, bool compare_boxes) {
  TensorDict res = read_dict(test::shared_path("fixtures/" + fixture + "/results.pt"));
  auto masks = fixture_masks(fixture);
  at::Tensor ref_scores = res.at("scores").to(at::kDouble);
  at::Tensor order_ref = std::get<1>(ref_scores.sort(/*stable=*/true, 0, /*descending=*/true));
  at::Tensor scores = out.at("det.0.scores").to(at::kDouble);
  at::Tensor order = std::get<1>(scores.sort(true, 0, true));
  ASSERT_EQ(scores.numel(), ref_scores.numel());
  EXPECT_TRUE(out.at("det.0.labels").index_select(0, order).equal(res.at("labels").index_select(0, order_ref)));
  EXPECT_LE(test::max_abs_diff(scores.index_select(0, order), ref_scores.index_select(0, order_ref)), 1e-5);
  if (compare_boxes) {
    EXPECT_LE(test::max_abs_diff(out.at("det.0.bboxes").index_select(0, order),
                                 res.at("bboxes").index_select(0, order_ref)),
              1e-3);
  }
  at::Tensor our_masks = out.at("det.0.masks");
  double sum = 0, worst = 1;
  for (int64_t i = 0; i < order.numel(); ++i) {
    double iou = mask_iou(our_masks[order[i].item<int64_t>()], masks[order_ref[i].item<int64_t>()]);
    sum += iou;
    worst = std::min(worst, iou);
  }
  EXPECT_GE(worst, 0.995);
  EXPECT_GE(sum / order.numel(), 0.999);
}

void check_losses_and_grads(const TensorDict& out, const std::string& fixture) {
  TensorDict train = read_dict(test::shared_path("fixtures/" + fixture + "/train.pt"));
  int losses = 0, grads = 0;
  for (const auto& kv : train) {
    const std::string& k = kv.first;
    if (k.rfind("loss.", 0) == 0) {
      ASSERT_TRUE(out.contains(k)) << "missing " << k;
      double ref = kv.second.item<double>(), ours = out.at(k).item<double>();
      EXPECT_LE(std::abs(ours - ref), 1e-4 * std::max(1e-12, std::abs(ref))) << k << ": " << ours << " vs " << ref;
      ++losses;
    } else if (k.rfind("grad.", 0) == 0) {
      expect_close(out, k, train, k, 1e-2);
      ++grads;
    }
  }
  EXPECT_GT(losses, 0);
  EXPECT_GT(grads, 0);
}

TEST(CliForward, SOLOv2MatchesMmdetection) {
  INSTSEG_REQUIRE_SHARED();
  TensorDict out = run_forward("solov2", /*with_gt=*/true);
  TensorDict ref = read_dict(test::shared_path("fixtures/solov2/intermediates.pt"));
  for (int i = 0; i < 4; ++i) expect_close(out, "backbone.c" + std::to_string(i + 2), ref, "backbone." + std::to_string(i), 1e-5);
  for (int i = 0; i < 5; ++i) expect_close(out, "neck.p" + std::to_string(i + 2), ref, "neck." + std::to_string(i), 1e-5);
  for (int l = 0; l < 5; ++l) {
    expect_close(out, "solov2.cls_scores." + std::to_string(l), ref, "head.cls_preds." + std::to_string(l), 1e-5);
    expect_close(out, "solov2.kernel_preds." + std::to_string(l), ref, "head.kernel_preds." + std::to_string(l), 1e-5);
  }
  expect_close(out, "solov2.mask_feats", ref, "head.mask_feats", 1e-5);
  // mmdet's SOLOv2 returns all-zero boxes; ours are derived from the masks.
  check_detections(out, "solov2", /*compare_boxes=*/false);
  check_losses_and_grads(out, "solov2");
}

TEST(CliForward, QueryInstMatchesMmdetection) {
  INSTSEG_REQUIRE_SHARED();
  TensorDict out = run_forward("queryinst", /*with_gt=*/true);
  TensorDict ref = read_dict(test::shared_path("fixtures/queryinst/intermediates.pt"));
  for (int i = 0; i < 4; ++i) expect_close(out, "backbone.c" + std::to_string(i + 2), ref, "backbone." + std::to_string(i), 1e-5);
  for (int i = 0; i < 4; ++i) expect_close(out, "neck.p" + std::to_string(i + 2), ref, "neck." + std::to_string(i), 1e-5);
  for (int s = 0; s < 6; ++s) {
    const std::string q = "queryinst.stage" + std::to_string(s) + ".", f = "stage" + std::to_string(s) + ".";
    expect_close(out, q + "cls_score", ref, f + "cls_score", 1e-5);
    expect_close(out, q + "bboxes", ref, f + "decoded_bboxes", 1e-5);
    expect_close(out, q + "obj_feat", ref, f + "object_feats", 1e-5);
  }
  expect_close(out, "queryinst.mask_logits", ref, "stage5.mask_preds", 1e-4);
  check_detections(out, "queryinst", /*compare_boxes=*/true);
  check_losses_and_grads(out, "queryinst");
}

TEST(CliForward, BackboneOnlyWithoutMeta) {
  INSTSEG_REQUIRE_SHARED();
  // IN.pt with only `img`: backbone and neck outputs, no detections.
  const std::string dir = test::shared_path("fixtures/solov2");
  TensorDict in = read_dict(dir + "/forward_in.pt");
  const std::string tmp = test::temp_dir("fwd_img_only");
  PyValue root = PyValue::dict();
  root.dict_set(PyValue::str("img"), tensor_value(in.at("img")));
  write_pth(tmp + "/in.pt", root);
  std::string cmd = test::instseg_binary() + " --log-level warning forward --config " + dir + "/config.json" +
                    " --checkpoint " + dir + "/checkpoint.pth --input " + tmp + "/in.pt --out " + tmp + "/out.pt";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  TensorDict out = read_dict(tmp + "/out.pt");
  TensorDict ref = read_dict(dir + "/intermediates.pt");
  expect_close(out, "backbone.c5", ref, "backbone.3", 1e-5);
  expect_close(out, "neck.p6", ref, "neck.4", 1e-5);
  EXPECT_FALSE(out.contains("det.0.scores"));
  EXPECT_FALSE(out.contains("solov2.mask_feats"));
}

}  // namespace
}  // namespace instseg
