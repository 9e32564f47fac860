// What mmengine's ValLoop / TestLoop evaluate, built from a config: the
// dataloader's dataset in test mode (every image, file order, no GT: the GT
// comes from the evaluator's ann_file), its loader (no shuffle, no dropped
// images) and the evaluator (mmdet's CocoMetric). `instseg train`'s validation
// and `instseg test` both build theirs here, and run it with
// engine/evaluate.h's run_evaluation.
//
//   EvaluationSetOptions o;  o.threads = 2;
//   EvaluationSet val = build_evaluation_set(dataloader_spec_from(cfg, "val_dataloader"),
//                                            evaluator_spec_from(cfg, "val_evaluator"), collate, o);
//   run_evaluation(model, device, *val.source, *val.evaluator, {});
#pragma once
#include "instseg/config/build_data.h"
#include "instseg/io/collate.h"
#include "instseg/io/coco_dataset.h"
#include "instseg/io/engine_adapters.h"

#include <cstdint>
#include <memory>
#include <string>

namespace instseg {

struct EvaluationSetOptions {
  int64_t batch_size = 0;            // images per batch; 0: the dataloader's batch_size
  int rank = 0, world_size = 1;      // this process's share of the images (distributed validation)
  int threads = 0;                   // COCOeval threads (0: every CPU)
  bool log_report = true;            // false: the caller prints evaluator->last_report()
  std::string results_name = "<results>";  // names the results in error messages
};

struct EvaluationSet {
  std::shared_ptr<const CocoDataset> dataset;
  std::unique_ptr<LoaderBatchSource> source;
  std::unique_ptr<CocoMetricEvaluator> evaluator;
  std::string gt_file;  // the evaluator's ann_file (the dataset's when the evaluator names none)
};

EvaluationSet build_evaluation_set(const DataloaderSpec& dataloader, const EvaluatorSpec& evaluator,
                                   const CollateOptions& collate, const EvaluationSetOptions& options = {});

}  // namespace instseg
