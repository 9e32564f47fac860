// COCO detection / instance-segmentation evaluation that reproduces
// pycocotools' COCOeval (cocoeval.py) number for number: evaluate() is the
// per-image greedy matching (evaluateImg), accumulate() the precision/recall
// tables, stats() / summary_text() the 12 summary numbers and their print-out.
//
// Inputs are plain structs (no file formats here): io/coco_eval_io.h turns a
// COCO GT file and a results file into them with pycocotools' loadRes rules.
//
// Work is split over images with std::thread; every image's result is stored
// in its own slot, so the output does not depend on the thread count.
#pragma once
#include "instseg/eval/rle.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace instseg::eval {

enum class IouType { segm, bbox };
const char* iou_type_name(IouType t);

// One ground-truth annotation. `area` is the GT file's `area` field (what
// pycocotools tests against the area ranges); `iscrowd` also acts as the
// `ignore` flag (COCOeval overwrites gt['ignore'] with iscrowd).
struct EvalGt {
  int64_t id = 0;  // annotation id (reported as the match id)
  int64_t image_id = 0;
  int64_t category_id = 0;
  double area = 0;
  bool iscrowd = false;
  std::array<double, 4> bbox{};  // [x, y, w, h]; used for IouType::bbox
  rle::Rle mask;                 // used for IouType::segm
};

// One detection. `id` must be > 0 (loadRes numbers results 1..N in file order).
struct EvalDet {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  double area = 0;  // loadRes: bbox w*h when results carry bbox, else mask area
  std::array<double, 4> bbox{};
  rle::Rle mask;
  // When set, the mask is this COCO compressed string of size mask.h x mask.w
  // (mask.counts unused): the evaluator decodes it into scratch memory when
  // it computes the detection's IoUs, as pycocotools' iou() decodes its RLE
  // strings on every call. Decoded up front, a results file's masks take
  // about 3x the strings' size for the whole evaluation (50 000 detections:
  // ~27 MB), and faulting that memory in was a tenth of `instseg eval`'s CPU
  // time. The string must decode (rle::from_string) and outlive the evaluator.
  const std::string* mask_string = nullptr;
};

// np.linspace(start, stop, num) computed the way numpy does (i*step + start,
// last = stop), so every threshold is the same double (iouThrs[8] is
// 0.8999999999999999, not 0.9).
std::vector<double> np_linspace(double start, double stop, int64_t num);
// numpy's pairwise summation (add.reduce on a contiguous float64 array).
double np_pairwise_sum(const double* a, int64_t n);

struct CocoEvalParams {
  IouType iou_type = IouType::segm;
  std::vector<int64_t> img_ids;  // every GT image id (sorted, made unique inside)
  std::vector<int64_t> cat_ids;  // every GT category id (sorted, made unique inside)
  std::vector<double> iou_thrs = np_linspace(.5, 0.95, 10);
  std::vector<double> rec_thrs = np_linspace(.0, 1.00, 101);
  std::vector<int64_t> max_dets = {1, 10, 100};  // sorted inside
  std::vector<std::array<double, 2>> area_rng = {
      {0.0, 1e10}, {0.0, 1024.0}, {1024.0, 9216.0}, {9216.0, 1e10}};
  std::vector<std::string> area_rng_lbl = {"all", "small", "medium", "large"};
  bool use_cats = true;
  int num_threads = 0;  // 0 = all available CPUs
  // Fill scores() (eval['scores']) in accumulate(). Nothing in summarize()
  // reads it, and it is as large as precision() (T*R*K*A*M doubles, 7.4 MiB
  // for 80 categories): the evaluate-and-print path (io/coco_eval_io.h)
  // turns it off.
  bool keep_scores = true;
};

// One COCOeval.evalImgs entry (an image, a category and an area range), in
// pycocotools' layout. Matches are annotation ids, 0 = unmatched.
struct EvalImage {
  int64_t image_id = 0, category_id = 0;
  std::array<double, 2> area_rng{};
  int64_t max_det = 0;
  std::vector<int64_t> dt_ids, gt_ids;  // score order (<= max_det); ignored GT last
  std::vector<double> dt_scores;
  std::vector<int64_t> dt_matches;  // [T x D] row-major
  std::vector<int64_t> gt_matches;  // [T x G]
  std::vector<uint8_t> dt_ignore;   // [T x D]
  std::vector<uint8_t> gt_ignore;   // [G]
};

// Per-category AP as mmdetection's `classwise` table (NaN = no data).
struct CategoryAp {
  int64_t category_id = 0;
  double ap = 0, ap50 = 0, ap75 = 0, ap_s = 0, ap_m = 0, ap_l = 0;
};

class CocoEvaluator {
 public:
  explicit CocoEvaluator(CocoEvalParams params);
  ~CocoEvaluator();
  CocoEvaluator(CocoEvaluator&&) noexcept;
  CocoEvaluator& operator=(CocoEvaluator&&) noexcept;

  // Per-image matching (COCOeval.evaluate). GT and detections whose image or
  // category is not in params' lists are dropped, as getAnnIds does. Input
  // order matters (it breaks score ties): pass GT in file order and
  // detections in results order. The vectors must outlive the evaluator.
  void evaluate(const std::vector<EvalGt>& gts, const std::vector<EvalDet>& dets);
  // COCOeval.accumulate: fills precision / recall / scores.
  void accumulate();
  // The 12 COCOeval.stats (summarize() for bbox/segm).
  std::array<double, 12> stats() const;
  // summarize()'s 12 printed lines, each ending in '\n'.
  std::string summary_text() const;
  // mmdet: "<type>_mAP_copypaste: AP AP50 AP75 APs APm APl" (3 decimals).
  std::string copypaste_line() const;
  // One row per params.cat_ids entry, and its printed table (names optional,
  // same order as cat_ids; ids are printed when empty).
  std::vector<CategoryAp> per_category() const;
  std::string per_category_table(const std::vector<std::string>& names = {}) const;

  const CocoEvalParams& params() const { return p_; }
  // eval['precision'] / ['scores'] [T,R,K,A,M] and ['recall'] [T,K,A,M],
  // flattened in numpy's C order; -1 for undefined entries. scores() is empty
  // unless params.keep_scores.
  const std::vector<double>& precision() const { return precision_; }
  const std::vector<double>& recall() const { return recall_; }
  const std::vector<double>& scores() const { return scores_; }
  // The ious[(image, category)] matrix [D x G] (detections in score order,
  // at most max_dets.back(); GT in input order); empty when either is absent.
  std::vector<double> ious(int64_t image_id, int64_t category_id) const;
  // evalImgs entry for (image, category, area range index) with maxDet =
  // max_dets.back(); empty optional-like result (has=false) when pycocotools
  // stores None.
  bool eval_image(int64_t image_id, int64_t category_id, size_t area_idx, EvalImage* out) const;
  // Number of (image, category) pairs that hold GT or detections.
  size_t num_pairs() const;

 private:
  struct State;
  CocoEvalParams p_;
  std::unique_ptr<State> s_;
  std::vector<double> precision_, recall_, scores_;
  std::array<double, 12> stats_{};
  bool accumulated_ = false;
};

}  // namespace instseg::eval
