// COCOeval parity with pycocotools: the golden cases of
// ../shared/fixtures/cocoeval (case1 also copied to tests/data/eval) and
// hand-computed small cases.
#include "common/test_util.h"
#include "instseg/core/check.h"
#include "instseg/eval/coco_eval.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/results_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/serialize.h>

#include <cmath>
#include <fstream>
#include <memory>

namespace instseg {
namespace {

using nlohmann::json;
using eval::IouType;

json read_json(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  return json::parse(f);
}

// Runs loadRes + evaluate + accumulate on one case directory for one tag
// (segm, bbox or segm_segmonly).
struct CaseRun {
  CocoFile gt;
  std::vector<eval::EvalGt> gts;
  std::vector<eval::EvalDet> dets;
  std::unique_ptr<eval::CocoEvaluator> ev;
};

std::unique_ptr<CaseRun> run_case(const std::string& dir, const std::string& tag, int threads = 0) {
  auto r = std::make_unique<CaseRun>();
  r->gt = load_coco_json(dir + "/gt.json");
  const IouType type = tag == "bbox" ? IouType::bbox : IouType::segm;
  const auto res = load_results_json(dir + "/dets.json");
  LoadResOptions opt;
  opt.ignore_bbox = tag == "segm_segmonly";
  r->gts = coco_gt_for_eval(r->gt, type);
  r->dets = coco_results_for_eval(r->gt, res, type, dir + "/dets.json", opt);
  auto p = coco_eval_params(r->gt, type);
  p.num_threads = threads;
  r->ev = std::make_unique<eval::CocoEvaluator>(p);
  r->ev->evaluate(r->gts, r->dets);
  r->ev->accumulate();
  return r;
}

// Checks stats, summary text, ious examples and the per-image matching of one
// case against expected.json / eval_imgs_*.json. Counts the stats that are
// bit-identical in *exact.
void check_case(const std::string& dir, int* exact_out) {
  SCOPED_TRACE(dir);
  const json exp = read_json(dir + "/expected.json");
  int& exact = *exact_out;
  exact = 0;
  for (const std::string tag : {"segm", "bbox", "segm_segmonly"}) {
    SCOPED_TRACE(tag);
    auto r = run_case(dir, tag);
    const auto st = r->ev->stats();
    const auto& want = exp["stats"][tag];
    for (int i = 0; i < 12; ++i) {
      EXPECT_NEAR(st[i], want[i].get<double>(), 1e-9) << "stat " << i;
      exact += st[i] == want[i].get<double>();
    }
    std::string text = r->ev->summary_text();
    text.pop_back();  // summarize() lines are joined without a final newline
    EXPECT_EQ(text, exp["summary_text"][tag].get<std::string>());
    if (tag == "segm_segmonly") continue;
    const auto& p = r->ev->params();
    EXPECT_EQ(json(p.cat_ids), exp["param_catIds"]);
    EXPECT_EQ(json(p.img_ids), exp["param_imgIds"]);
    // COCOeval.ious examples.
    for (const auto& ex : exp["iou_examples_" + tag]) {
      const auto ious = r->ev->ious(ex["image_id"], ex["category_id"]);
      const auto& rows = ex["iou"];
      const size_t G = ex["gt_ids_in_col_order"].size();
      ASSERT_EQ(ious.size(), rows.size() * G);
      for (size_t d = 0; d < rows.size(); ++d)
        for (size_t g = 0; g < G; ++g) EXPECT_EQ(ious[d * G + g], rows[d][g].get<double>()) << d << "," << g;
      eval::EvalImage e;
      ASSERT_TRUE(r->ev->eval_image(ex["image_id"], ex["category_id"], 0, &e));
      EXPECT_EQ(json(e.dt_ids), ex["dt_ids_in_row_order"]);
    }
    // evalImgs for areaRng 'all', maxDet 100.
    const json imgs = read_json(dir + "/eval_imgs_" + tag + ".json");
    EXPECT_EQ(imgs.size(), r->ev->num_pairs());
    for (const auto& w : imgs) {
      eval::EvalImage e;
      ASSERT_TRUE(r->ev->eval_image(w["image_id"], w["category_id"], 0, &e));
      SCOPED_TRACE(w["image_id"].dump() + "/" + w["category_id"].dump());
      EXPECT_EQ(json(e.dt_ids), w["dtIds"]);
      EXPECT_EQ(json(e.gt_ids), w["gtIds"]);
      EXPECT_EQ(json(e.dt_scores), w["dtScores"]);
      const size_t D = e.dt_ids.size(), G = e.gt_ids.size(), T = 10;
      for (size_t t = 0; t < T; ++t) {
        for (size_t d = 0; d < D; ++d) {
          EXPECT_EQ(e.dt_matches[t * D + d], w["dtMatches"][t][d].get<double>());
          EXPECT_EQ(e.dt_ignore[t * D + d], w["dtIgnore"][t][d].get<int>());
        }
        for (size_t g = 0; g < G; ++g) EXPECT_EQ(e.gt_matches[t * G + g], w["gtMatches"][t][g].get<double>());
      }
      for (size_t g = 0; g < G; ++g) EXPECT_EQ(e.gt_ignore[g], w["gtIgnore"][g].get<int>());
    }
  }
}

TEST(CocoEval, Case1Local) {
  int exact = 0;
  check_case(test::data_path("eval/case1_basic"), &exact);
  EXPECT_EQ(exact, 36);
}

TEST(CocoEval, SharedCases) {
  INSTSEG_REQUIRE_SHARED();
  for (const std::string c : {"case1_basic", "case2_crowd", "case3_empty_images", "case4_many_dets"}) {
    int exact = 0;
    check_case(test::shared_path("fixtures/cocoeval/" + c), &exact);
    // Every stat is computed with numpy's operation order: expect bit equality.
    EXPECT_EQ(exact, 36) << c;
  }
}

// eval['precision'][..., -1], eval['recall'] and eval['scores'][..., -1] from
// accumulate.pt.
TEST(CocoEval, SharedAccumulateTables) {
  INSTSEG_REQUIRE_SHARED();
  for (const std::string c : {"case1_basic", "case2_crowd", "case3_empty_images", "case4_many_dets"}) {
    const std::string dir = test::shared_path("fixtures/cocoeval/" + c);
    std::ifstream f(dir + "/accumulate.pt", std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto dict = torch::pickle_load(bytes).toGenericDict();
    for (const std::string tag : {"segm", "bbox", "segm_segmonly"}) {
      SCOPED_TRACE(c + "/" + tag);
      auto r = run_case(dir, tag);
      const auto& p = r->ev->params();
      const int64_t T = 10, R = 101, K = static_cast<int64_t>(p.cat_ids.size()), A = 4, M = 3;
      auto prec = at::from_blob(const_cast<double*>(r->ev->precision().data()), {T, R, K, A, M}, at::kDouble);
      auto sc = at::from_blob(const_cast<double*>(r->ev->scores().data()), {T, R, K, A, M}, at::kDouble);
      auto rec = at::from_blob(const_cast<double*>(r->ev->recall().data()), {T, K, A, M}, at::kDouble);
      const at::Tensor want_p = dict.at(tag + "/precision_maxdet100").toTensor();
      const at::Tensor want_r = dict.at(tag + "/recall").toTensor();
      const at::Tensor want_s = dict.at(tag + "/scores_maxdet100").toTensor();
      EXPECT_TRUE(at::equal(prec.select(4, M - 1), want_p));
      EXPECT_TRUE(at::equal(rec, want_r));
      EXPECT_TRUE(at::equal(sc.select(4, M - 1), want_s));
    }
  }
}

TEST(CocoEval, ThreadCountDoesNotChangeResults) {
  const std::string dir = test::data_path("eval/case1_basic");
  auto a = run_case(dir, "segm", 1), b = run_case(dir, "segm", 3);
  EXPECT_EQ(a->ev->precision(), b->ev->precision());
  EXPECT_EQ(a->ev->recall(), b->ev->recall());
  EXPECT_EQ(a->ev->stats(), b->ev->stats());
}

TEST(CocoEval, NumpyFloatDetails) {
  // numpy's linspace is i * ((stop - start) / (num - 1)) + start with the last
  // value set to stop; step = 0.049999999999999996, so index 8 is not 0.9.
  const auto t = eval::np_linspace(.5, 0.95, 10);
  EXPECT_EQ(t[1], 0.55);
  EXPECT_EQ(t[2], 0.6);
  EXPECT_EQ(t[5], 0.75);
  EXPECT_EQ(t[8], 0.8999999999999999);
  EXPECT_EQ(t[9], 0.95);
  const auto r = eval::np_linspace(0, 1, 101);
  EXPECT_EQ(r[7], 0.07);
  EXPECT_EQ(r[100], 1.0);
  // Pairwise summation differs from a naive loop on this input.
  std::vector<double> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i % 7) + 1e-3;
  double naive = 0;
  for (double x : v) naive += x;
  EXPECT_NEAR(eval::np_pairwise_sum(v.data(), 1000), naive, 1e-9);
}

// Box evaluation of one image with hand-computed outcomes.
eval::EvalGt box_gt(int64_t id, int64_t cat, std::array<double, 4> b, bool crowd = false) {
  eval::EvalGt g;
  g.id = id;
  g.image_id = 1;
  g.category_id = cat;
  g.bbox = b;
  g.area = b[2] * b[3];
  g.iscrowd = crowd;
  return g;
}
eval::EvalDet box_det(int64_t id, int64_t cat, double score, std::array<double, 4> b) {
  eval::EvalDet d;
  d.id = id;
  d.image_id = 1;
  d.category_id = cat;
  d.score = score;
  d.bbox = b;
  d.area = b[2] * b[3];
  return d;
}

TEST(CocoEval, HandComputedBoxes) {
  eval::CocoEvalParams p;
  p.iou_type = IouType::bbox;
  p.img_ids = {1};
  p.cat_ids = {1, 2};
  // Category 1: one 100x100 GT (large), a perfect detection and a weaker
  // duplicate (a false positive). Category 2: a crowd region matched by two
  // detections (both ignored) and one 20x20 GT (small) missed.
  std::vector<eval::EvalGt> gts = {box_gt(10, 1, {0, 0, 100, 100}), box_gt(11, 2, {200, 200, 100, 100}, true),
                                   box_gt(12, 2, {0, 0, 20, 20})};
  std::vector<eval::EvalDet> dets = {box_det(1, 1, 0.5, {0, 0, 100, 100}), box_det(2, 1, 0.9, {0, 0, 100, 50}),
                                     box_det(3, 2, 0.8, {210, 210, 50, 50}),
                                     box_det(4, 2, 0.7, {220, 220, 50, 50})};
  eval::CocoEvaluator ev(p);
  ev.evaluate(gts, dets);
  ev.accumulate();
  eval::EvalImage e;
  ASSERT_TRUE(ev.eval_image(1, 1, 0, &e));
  EXPECT_EQ(e.dt_ids, (std::vector<int64_t>{2, 1}));  // score order
  // Det 2 (IoU 0.5 with GT 10) matches at t=0 only; det 1 then matches GT 10
  // at t>=1 (at t=0 the GT is taken).
  EXPECT_EQ(e.dt_matches[0 * 2 + 0], 10);
  EXPECT_EQ(e.dt_matches[0 * 2 + 1], 0);
  EXPECT_EQ(e.dt_matches[1 * 2 + 0], 0);
  EXPECT_EQ(e.dt_matches[1 * 2 + 1], 10);
  ASSERT_TRUE(ev.eval_image(1, 2, 0, &e));
  EXPECT_EQ(e.gt_ids, (std::vector<int64_t>{12, 11}));  // crowd (ignored) last
  // Crowd IoU = intersection / det area = 1: both detections match the crowd.
  for (size_t t = 0; t < 10; ++t) {
    EXPECT_EQ(e.dt_matches[t * 2 + 0], 11);
    EXPECT_EQ(e.dt_matches[t * 2 + 1], 11);
    EXPECT_EQ(e.dt_ignore[t * 2 + 0], 1);
    EXPECT_EQ(e.dt_ignore[t * 2 + 1], 1);
  }
  const auto s = ev.stats();
  // Cat 1 at t=0: precision 1 up to recall 1 (det 2 first) -> 1; at t>=1: det 1
  // second -> precision 0.5 at recall 1 -> envelope 0.5. Mean over 10 IoUs:
  // (1 + 9 * 0.5) / 10 = 0.55. Cat 2: GT missed -> 0. AP = (0.55 + 0) / 2.
  EXPECT_NEAR(s[0], 0.275, 1e-12);
  EXPECT_NEAR(s[1], 0.5, 1e-12);
  EXPECT_NEAR(s[2], 0.25, 1e-12);
  EXPECT_NEAR(s[3], 0.0, 1e-12);  // small: cat 2 only, missed
  EXPECT_EQ(s[4], -1.0);          // medium: no GT at all
  // large: GT 10 only; at t>=1 det 2 (area 5000) is unmatched and outside the
  // range, so it is ignored and det 1 gives precision 1 everywhere.
  EXPECT_NEAR(s[5], 1.0, 1e-12);
  // AR@1: cat 1 keeps det 2 only (recall 1 at t=0, else 0), cat 2 0 -> 1/20.
  EXPECT_NEAR(s[6], 0.05, 1e-12);
  EXPECT_NEAR(s[7], 0.5, 1e-12);
  EXPECT_NEAR(s[8], 0.5, 1e-12);
  EXPECT_NEAR(s[9], 0.0, 1e-12);
  EXPECT_EQ(s[10], -1.0);
  EXPECT_NEAR(s[11], 1.0, 1e-12);
  EXPECT_EQ(ev.copypaste_line(), "bbox_mAP_copypaste: 0.275 0.500 0.250 0.000 -1.000 1.000");
}

// mmdet's CocoMetric evaluates with maxDets [100, 300, 1000]. pycocotools'
// summarize() takes stats[0] at maxDets 100 (its _summarize default) and
// stats[1..5] / stats[8..11] at maxDets[2]. One image with 150 disjoint
// 10x10 GT boxes (all small) and 150 perfect detections (scores falling):
// at maxDet 100 recall stops at 100/150, so precision is 1 up to recall
// 0.6667 and AP = 67/101 (thresholds 0..0.66); at 1000 everything is found.
TEST(CocoEval, MaxDetsOfMmdetChangeStats1To5ButNotStats0) {
  std::vector<eval::EvalGt> gts;
  std::vector<eval::EvalDet> dets;
  for (int64_t k = 0; k < 150; ++k) {
    const std::array<double, 4> b = {static_cast<double>((k % 15) * 20), static_cast<double>((k / 15) * 20), 10, 10};
    gts.push_back(box_gt(k + 1, 1, b));
    dets.push_back(box_det(k + 1, 1, 1.0 - static_cast<double>(k) / 1000, b));
  }
  auto run = [&](std::vector<int64_t> max_dets) {
    eval::CocoEvalParams p;
    p.iou_type = IouType::bbox;
    p.img_ids = {1};
    p.cat_ids = {1};
    p.max_dets = std::move(max_dets);
    auto ev = std::make_unique<eval::CocoEvaluator>(p);
    ev->evaluate(gts, dets);
    ev->accumulate();
    return ev;
  };
  const double capped = 67.0 / 101;
  const auto def = run({1, 10, 100});
  const std::array<double, 12> want_def = {capped, capped, capped, capped, -1, -1,
                                           1.0 / 150, 10.0 / 150, 100.0 / 150, 100.0 / 150, -1, -1};
  const auto mm = run({100, 300, 1000});
  const std::array<double, 12> want_mm = {capped, 1, 1, 1, -1, -1, 100.0 / 150, 1, 1, 1, -1, -1};
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(def->stats()[i], want_def[i], 1e-12) << "[1, 10, 100] stats[" << i << "]";
    EXPECT_NEAR(mm->stats()[i], want_mm[i], 1e-12) << "[100, 300, 1000] stats[" << i << "]";
  }
  // stats[0] is looked up at maxDets == 100: without a 100 it is -1, as in
  // pycocotools (empty selection).
  EXPECT_EQ(run({1, 10, 1000})->stats()[0], -1.0);
  EXPECT_NEAR(run({1, 10, 1000})->stats()[1], 1.0, 1e-12);
  // The printed lines name the maxDets each number was taken at.
  const std::string text = mm->summary_text();
  EXPECT_NE(text.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.663\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=1000 ] = 1.000\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.667\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=300 ] = 1.000\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=1000 ] = -1.000\n"),
            std::string::npos) << text;
  EXPECT_EQ(mm->copypaste_line(), "bbox_mAP_copypaste: 0.663 1.000 1.000 1.000 -1.000 -1.000");
  EXPECT_EQ(def->copypaste_line(), "bbox_mAP_copypaste: 0.663 0.663 0.663 0.663 -1.000 -1.000");
}

// evaluate_coco's max_dets: pycocotools' summarize reads maxDets[0..2].
TEST(CocoEval, EvaluateCocoMaxDetsArgument) {
  CocoFile gt;
  gt.images.push_back({1, "a.png", 100, 100});
  gt.image_index[1] = 0;
  gt.categories.push_back({1, "thing", ""});
  gt.category_index[1] = 0;
  CocoAnnotation a;
  a.id = 1;
  a.image_id = 1;
  a.category_id = 1;
  a.bbox[0] = a.bbox[1] = 10;
  a.bbox[2] = a.bbox[3] = 10;
  a.area = 100;
  a.has_bbox = a.has_area = true;
  gt.annotations.push_back(a);
  CocoResult r;
  r.image_id = 1;
  r.category_id = 1;
  r.score = 0.5;
  r.has_bbox = true;
  std::copy(a.bbox, a.bbox + 4, r.bbox);
  const auto rep = evaluate_coco(gt, {r}, "r.json", {IouType::bbox}, {}, false, 1, mmdet_proposal_nums());
  EXPECT_NEAR(rep[0].stats[0], 1.0, 1e-12);
  EXPECT_NE(rep[0].summary.find("maxDets=1000 ]"), std::string::npos);
  EXPECT_EQ(evaluate_coco(gt, {r}, "r.json", {IouType::bbox})[0].summary.find("maxDets=1000"), std::string::npos);
  EXPECT_THROW(evaluate_coco(gt, {r}, "r.json", {IouType::bbox}, {}, false, 1, {100, 1000}), Error);
  EXPECT_THROW(evaluate_coco(gt, {r}, "r.json", {IouType::bbox}, {}, false, 1, {0, 10, 100}), Error);
}

}  // namespace
}  // namespace instseg
