#include "instseg/config/build_evaluation.h"

namespace instseg {

EvaluationSet build_evaluation_set(const DataloaderSpec& dl, const EvaluatorSpec& ev, const CollateOptions& collate,
                                   const EvaluationSetOptions& o) {
  EvaluationSet set;
  CocoDatasetOptions dopt = dl.dataset.coco;
  dopt.test_mode = true;  // every image, in file order
  dopt.with_gt = false;   // GT comes from the evaluator's ann_file
  dopt.with_mask = false;
  set.dataset = std::make_shared<const CocoDataset>(dopt);

  LoaderOptions lo = dl.loader_options(collate);
  if (o.batch_size > 0) lo.batch_size = o.batch_size;
  lo.shuffle = false;
  lo.aspect_ratio_grouping = false;
  lo.drop_last = false;
  lo.collate.with_gt = false;
  lo.collate.with_mask = false;
  lo.rank = o.rank;
  lo.world_size = o.world_size;
  set.source = std::make_unique<LoaderBatchSource>(set.dataset, lo);

  CocoMetricOptions mo;
  mo.ann_file = ev.ann_file.empty() ? dopt.ann_file : ev.ann_file;
  mo.metrics = ev.metrics;
  mo.classwise = ev.classwise;
  mo.proposal_nums = ev.proposal_nums;
  mo.outfile_prefix = ev.outfile_prefix;
  mo.format_only = ev.format_only;
  mo.threads = o.threads;
  mo.log_report = o.log_report;
  mo.results_name = o.results_name;
  set.gt_file = mo.ann_file;
  set.evaluator = std::make_unique<CocoMetricEvaluator>(mo, set.dataset->category_ids());
  return set;
}

}  // namespace instseg
