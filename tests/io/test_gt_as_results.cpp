// Issue 3 acceptance: the datasets load with the exact image / instance
// counts, and feeding a dataset's own ground truth back as results gives
// AP 1.000 for bbox and segm wherever pycocotools gives 1.000.
//
// Expected counts were taken independently with python's json module
// (tests/data/io/gt_as_results_oracle.py prints them together with the
// capped AP values derived below).
//
// The results are built as pycocotools users do it: every non-crowd GT
// annotation becomes {image_id, category_id, score 1.0, bbox = the
// annotation's bbox, segmentation = its mask as a compressed RLE string}
// (polygons and uncompressed RLE go through instseg::rle), in dataset order.
// With identical masks and boxes every detection has IoU 1 with its own GT
// (the greedy matcher takes the highest IoU, non-ignored GT first), so AP
// falls below 1 only through
//   * maxDets: COCOeval keeps the first maxDet detections of each (image,
//     category) pair, so a pair with more than 100 GT instances cannot be
//     fully recalled at maxDets 100 -> nuclei val (image 5: 249 nuclei) and
//     train (9 images > 100). mmdet's maxDets [100, 300, 1000] lifts every
//     stat but stats[0], which summarize() always takes at maxDets 100;
//   * pycocotools' match bookkeeping: dtMatches holds the matched GT's id
//     and 0 means "unmatched", so a GT annotation with id 0 is never a true
//     positive -> labelme3 (labelme2coco numbers annotations from 0);
//   * categories / area ranges without GT give -1 entries (left out of the
//     mean; a stat without any GT is -1), and a category whose only GT is a
//     single TP has precision 1 / (1 + eps) = 1 - 2^-52, not 1.
// Crowd GT (coco128) is not turned into results: it is an ignore region.
// Every value below equals the oracle's (gt_as_results_oracle.py, a
// re-implementation of cocoeval.py's evaluateImg / accumulate / summarize
// on boxes, and on decoded RLE masks for nuclei) to the printed 17 digits.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "instseg/eval/coco_eval.h"
#include "instseg/eval/rle.h"
#include "instseg/io/coco_dataset.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/results_json.h"

namespace instseg {
namespace {

rle::Rle mask_of(const CocoAnnotation& a, const CocoImage& img) {
  EXPECT_NE(a.segmentation.kind, CocoSegmentation::Kind::none) << "annotation " << a.id;
  return segmentation_to_rle(a.segmentation, img.height, img.width);
}

// Every non-crowd annotation of the dataset as a score-1.0 result.
std::vector<CocoResult> gt_as_results(const CocoDataset& d) {
  std::vector<CocoResult> out;
  for (int64_t i = 0; i < d.size(); ++i) {
    const CocoImage& img = d.image_info(i);
    for (size_t k : d.annotation_indices(i)) {
      const CocoAnnotation& a = d.coco().annotations[k];
      if (a.iscrowd) continue;
      CocoResult r;
      r.image_id = a.image_id;
      r.category_id = a.category_id;
      r.score = 1.0;
      r.has_bbox = true;
      for (int j = 0; j < 4; ++j) r.bbox[j] = a.bbox[j];
      const rle::Rle m = mask_of(a, img);
      r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
      r.segmentation.h = m.h;
      r.segmentation.w = m.w;
      r.segmentation.counts = rle::to_string(m);
      out.push_back(std::move(r));
    }
  }
  return out;
}

struct EvalOut {
  std::array<double, 12> stats{};
  eval::CocoEvalParams params;
  std::vector<double> precision;
};

EvalOut run_eval(const CocoFile& gt, const std::vector<CocoResult>& res, eval::IouType type,
                 const std::vector<int64_t>& max_dets) {
  const auto gts = coco_gt_for_eval(gt, type);
  const auto dets = coco_results_for_eval(gt, res, type, "<gt as results>");
  eval::CocoEvalParams p = coco_eval_params(gt, type);
  p.max_dets = max_dets;
  eval::CocoEvaluator ev(p);
  ev.evaluate(gts, dets);
  ev.accumulate();
  return {ev.stats(), ev.params(), ev.precision()};
}

// mean(precision[:, :, :, area, m] > -1), -1 when empty (summarize's rule).
double ap_at(const EvalOut& e, size_t area, size_t m) {
  const size_t T = e.params.iou_thrs.size(), R = e.params.rec_thrs.size(), K = e.params.cat_ids.size(),
               A = e.params.area_rng.size(), M = e.params.max_dets.size();
  double sum = 0;
  size_t n = 0;
  for (size_t t = 0; t < T; ++t)
    for (size_t r = 0; r < R; ++r)
      for (size_t k = 0; k < K; ++k) {
        const double x = e.precision[(((t * R + r) * K + k) * A + area) * M + m];
        if (x > -1) sum += x, ++n;
      }
  return n ? sum / static_cast<double>(n) : -1.0;
}

struct Counts {
  int64_t images, instances, crowd, classes, train_images;
};

CocoDataset load_checked(const std::string& ann, const std::string& img_dir, const Counts& c) {
  CocoDatasetOptions o;
  o.ann_file = ann;
  o.img_dir = img_dir;
  o.test_mode = true;
  CocoDataset d(o);
  EXPECT_EQ(d.size(), c.images) << ann;
  int64_t n = 0, crowd = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    n += d.num_instances(i);
    for (size_t a : d.annotation_indices(i)) crowd += d.coco().annotations[a].iscrowd;
  }
  EXPECT_EQ(n, c.instances) << ann;  // no annotation of these files is invalid
  EXPECT_EQ(crowd, c.crowd) << ann;
  EXPECT_EQ(static_cast<int64_t>(d.coco().annotations.size()), c.instances) << ann;
  EXPECT_EQ(d.num_classes(), c.classes) << ann;
  o.test_mode = false;  // filter_empty_gt
  EXPECT_EQ(CocoDataset(o).size(), c.train_images) << ann;
  return d;
}

// Runs bbox and segm at maxDets [1, 10, 100] (pycocotools' default) and
// [100, 300, 1000] (mmdet's CocoMetric) and checks the 12 stats.
void check_both(const CocoFile& gt, const std::vector<CocoResult>& res, const std::array<double, 12>& want_default,
                const std::array<double, 12>& want_mmdet) {
  for (const eval::IouType t : {eval::IouType::segm, eval::IouType::bbox}) {
    const char* tn = eval::iou_type_name(t);
    const EvalOut e = run_eval(gt, res, t, {1, 10, 100});
    const EvalOut m = run_eval(gt, res, t, {100, 300, 1000});
    for (size_t i = 0; i < 12; ++i) {
      EXPECT_NEAR(e.stats[i], want_default[i], 1e-12) << tn << " maxDets 1,10,100: stats[" << i << "]";
      EXPECT_NEAR(m.stats[i], want_mmdet[i], 1e-12) << tn << " maxDets 100,300,1000: stats[" << i << "]";
    }
    // stats[1] is AP@0.5 at maxDets[2]: at 1000 it equals the mean precision
    // of the accumulated table at (IoU 0.5, area all, maxDet 1000).
    EXPECT_NEAR(ap_at(m, 0, 2), want_mmdet[1], 1e-12) << tn;
  }
}

// nuclei: one category, compressed RLE, no crowd. Some images hold more than
// 100 nuclei; at maxDets 100 only the first 100 detections of an image count
// (equal scores keep results order), so precision stays 1 but recall ends at
// R = kept / npig and AP is the share of the 101 recall thresholds <= R.
// Area ranges are inclusive ([0, 1024], [1024, 9216], ...): one val nucleus
// of area exactly 1024 counts as small and as medium.
TEST(GtAsResults, NucleiVal) {
  const std::string root = std::string(INSTSEG_SOURCE_DIR) + "/data/nuclei/";
  const CocoDataset d = load_checked(root + "annotations/val.json", root + "images", {15, 965, 0, 1, 15});
  const auto res = gt_as_results(d);
  ASSERT_EQ(res.size(), 965u);
  // Image 5 has 249 nuclei, 149 of them after the 100th: R = 816/965 = 0.8456,
  // thresholds 0..0.84 -> AP = 85/101 = 0.842 (pycocotools prints 0.842).
  // Small: 729 of 878 kept, R = 0.8303 -> 84/101. Medium: all 88 are among
  // the first 100 of their images -> 1. Large: no GT -> -1.
  // With maxDets [100, 300, 1000] stats[0] stays at maxDets 100 (summarize's
  // default) and everything at 1000 is 1.
  const double all = 85.0 / 101, small = 84.0 / 101;
  check_both(d.coco(), res,
             {all, all, all, small, 1, -1, 15.0 / 965, 141.0 / 965, 816.0 / 965, 729.0 / 878, 1, -1},
             {all, 1, 1, 1, 1, -1, 816.0 / 965, 1, 1, 1, 1, -1});
}

// The train split: 9 of 50 images hold more than 100 nuclei (up to 329).
// Kept at 100: 2235 of 3187 (R = 0.7013 -> 71/101), small 1960 of 2912
// (R = 0.6731 -> 68/101); every medium (272) and large (3) nucleus is kept.
// At maxDets 300 images 21 (329) and 38 (311) still lose 29 + 11: AR@300 =
// 3147/3187.
TEST(GtAsResults, NucleiTrain) {
  const std::string root = std::string(INSTSEG_SOURCE_DIR) + "/data/nuclei/";
  const CocoDataset d = load_checked(root + "annotations/train.json", root + "images", {50, 3187, 0, 1, 50});
  const auto res = gt_as_results(d);
  ASSERT_EQ(res.size(), 3187u);
  const double all = 71.0 / 101, small = 68.0 / 101;
  check_both(d.coco(), res,
             {all, all, all, small, 1, 1, 50.0 / 3187, 458.0 / 3187, 2235.0 / 3187, 1960.0 / 2912, 1, 1},
             {all, 1, 1, 1, 1, 1, 2235.0 / 3187, 3147.0 / 3187, 1, 1, 1, 1});
}

// coco128: 80 categories (71 with GT), 929 polygons and 10 crowd RLEs. Crowd
// annotations are not turned into results (they are ignore regions: a
// detection matched to one is neither TP nor FP). At most 13 instances per
// (image, category), so maxDets 100 caps nothing: every AP is 1.000.
// (AR@1 and AR@10 are below 1: images with more than 1 / 10 instances of a
// category.)
TEST(GtAsResults, Coco128) {
  INSTSEG_REQUIRE_SHARED();
  const CocoDataset d = load_checked(test::shared_path("data/coco128/instances.json"),
                                     test::shared_path("data/coco128/images"), {128, 939, 10, 80, 126});
  const auto res = gt_as_results(d);
  ASSERT_EQ(res.size(), 929u);
  check_both(d.coco(), res, {1, 1, 1, 1, 1, 1, 0.63372538173281745, 0.9856456672334859, 1, 1, 1, 1},
             {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
}

// labelme3: 21 categories (6 with GT), 12 polygons, annotation ids 0..11.
// pycocotools stores the matched GT's *id* in dtMatches and treats 0 as "no
// match", so the GT with id 0 (a large person in image 0) can never be a
// true positive: its detection (the first person detection) counts as a
// false positive, and no other detection can take the GT either. Person: 6
// GT, 5 TP after one FP -> precision envelope 5/6 up to recall 5/6 (84
// thresholds): AP 70/101; the other 5 categories 1 -> mAP = 575/606 = 0.949
// (the same at IoU 0.5 and 0.75). Large: person 3 of 4 after the FP ->
// (3/4 * 76/101 + 3) / 4 = 90/101. Small: bottle and one person, each the
// only GT of its category in range: precision 1/(1 + eps) = 1 - 2^-52.
// Renumbering the annotations from 1 gives 1.000 everywhere.
TEST(GtAsResults, Labelme3) {
  INSTSEG_REQUIRE_SHARED();
  const CocoDataset d = load_checked(test::shared_path("data/labelme3/instances.json"),
                                     test::shared_path("data/labelme3/images"), {3, 12, 0, 21, 3});
  const auto res = gt_as_results(d);
  ASSERT_EQ(res.size(), 12u);
  ASSERT_EQ(d.coco().annotations[0].id, 0);
  const double ap = 575.0 / 606, large = 90.0 / 101;
  const std::array<double, 12> want = {ap, ap, ap, 1, 1, large, 7.0 / 9, 35.0 / 36, 35.0 / 36, 1, 1, 15.0 / 16};
  check_both(d.coco(), res, want, {ap, ap, ap, 1, 1, large, 35.0 / 36, 35.0 / 36, 35.0 / 36, 1, 1, 15.0 / 16});

  CocoFile renumbered = d.coco();
  for (auto& a : renumbered.annotations) a.id += 1;
  check_both(renumbered, res, {1, 1, 1, 1, 1, 1, 29.0 / 36, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
}

}  // namespace
}  // namespace instseg
