// COCO files -> evaluator inputs, with pycocotools' rules:
//  * GT (COCO.annToRLE): polygons are rasterised with rleFrPoly at the image's
//    size and merged; compressed RLE is used as is; uncompressed counts are
//    converted. `area` is the file's field; `ignore` is iscrowd.
//  * results (COCO.loadRes): ids are 1..N in file order; the FIRST entry
//    decides the branch: with a bbox, every detection's area is bbox w*h (also
//    for segm, where it drives the area ranges) and a missing segmentation
//    becomes the box polygon; without one, area = mask area and a missing bbox
//    is toBbox(mask). iscrowd = 0.
#pragma once
#include "instseg/eval/coco_eval.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/results_json.h"

#include <string>
#include <vector>

namespace instseg {

// pycocotools' annToRLE: polygons rasterised at the image size (h, w) and
// merged, uncompressed counts compressed, compressed strings decoded as is.
// Throws instseg::Error for a malformed string or no segmentation.
rle::Rle segmentation_to_rle(const CocoSegmentation& s, int64_t h, int64_t w);

// The evaluator's inputs for one GT file and one iou type.
std::vector<eval::EvalGt> coco_gt_for_eval(const CocoFile& gt, eval::IouType type);

struct LoadResOptions {
  // Drop every result's bbox before loadRes (mmdet's segm evaluation does
  // this): the area then comes from the mask.
  bool ignore_bbox = false;
  // segm: hand compressed RLE strings to the evaluator as strings
  // (eval::EvalDet::mask_string, pointing into the results, which must then
  // outlive the detections and their evaluator) instead of decoded masks.
  // They are still decoded once here, to check them. evaluate_coco() does
  // this: the decoded masks of a results file take ~3x its strings' memory.
  bool masks_as_strings = false;
};

// Checks every result's image_id and category_id against the GT file and
// applies loadRes. `res_path` names the file in error messages.
std::vector<eval::EvalDet> coco_results_for_eval(const CocoFile& gt, const std::vector<CocoResult>& results,
                                                 eval::IouType type, const std::string& res_path,
                                                 const LoadResOptions& opt = {});

// Default COCOeval parameters with imgIds / catIds of the GT file.
eval::CocoEvalParams coco_eval_params(const CocoFile& gt, eval::IouType type);

// mmdet's CocoMetric sets coco_eval.params.maxDets = list(proposal_nums),
// default (100, 300, 1000). pycocotools' summarize() then takes stats[0]
// (mAP) at maxDets 100 and stats[1..5] (mAP_50 .. mAP_l) and the last AR
// lines at maxDets[2] = 1000; the printed lines show those numbers.
std::vector<int64_t> mmdet_proposal_nums();

// Category names in the order of the sorted category ids (for the
// per-category table).
std::vector<std::string> coco_category_names_sorted(const CocoFile& gt);

// One iou type's outcome of evaluate_coco().
struct CocoEvalReport {
  eval::IouType type = eval::IouType::segm;
  std::array<double, 12> stats{};
  std::string summary;         // summarize()'s 12 lines
  std::string copypaste;       // "<type>_mAP_copypaste: ..."
  std::string category_table;  // per-category AP (when asked for)
};

// loadRes + evaluate + accumulate + summarize for each type, in the order
// given. `threads` <= 0 uses every CPU. `max_dets` replaces COCOeval's
// params.maxDets (empty: pycocotools' [1, 10, 100]); summarize() needs at
// least 3 values.
std::vector<CocoEvalReport> evaluate_coco(const CocoFile& gt, const std::vector<CocoResult>& results,
                                          const std::string& res_path, const std::vector<eval::IouType>& types,
                                          const LoadResOptions& opt = {}, bool per_category = false,
                                          int threads = 0, const std::vector<int64_t>& max_dets = {});

// What to evaluate and how to word it: the one evaluate-and-print path of
// `instseg eval`, `instseg test` and the training validation
// (CocoMetricEvaluator in io/engine_adapters.h).
struct CocoEvalRequest {
  std::vector<eval::IouType> types{eval::IouType::segm};  // evaluated and reported in this order
  // segm: drop the results' boxes first, so that detection areas (the area
  // ranges) come from the masks, as mmdet's CocoMetric does; pycocotools'
  // loadRes takes them from the boxes when there are any.
  bool segm_area_from_mask = false;
  bool classwise = false;         // the per-category AP table too
  int threads = 0;                // COCOeval threads (<= 0: every CPU)
  std::vector<int64_t> max_dets;  // params.maxDets (empty: pycocotools' 1, 10, 100)
  // The header of each type's block: mmdet's CocoMetric "Evaluating segm..."
  // or pycocotools' "Evaluate annotation type *segm*".
  enum class Style { mmdet, pycocotools };
  Style style = Style::mmdet;
};

struct CocoEvalOutcome {
  std::vector<CocoEvalReport> reports;  // one per requested type, in order
  // What the commands print: per type the header, summarize()'s 12 lines,
  // the per-category table (classwise) and the "<type>_mAP_copypaste:" line.
  std::string text;
};

// evaluate_coco for each type of the request (logging each type's time) and
// the printed report. `res_name` names the results in error messages.
CocoEvalOutcome evaluate_coco_report(const CocoFile& gt, const std::vector<CocoResult>& results,
                                     const std::string& res_name, const CocoEvalRequest& request);

}  // namespace instseg
