// The data pipeline and COCO evaluation seen through the training engine's
// interfaces (engine/interfaces.h):
//
//   auto train_set = std::make_shared<const CocoDataset>(spec.dataset.coco);
//   LoaderOptions lo = spec.loader_options(collate);  lo.rank = dist::rank();  lo.world_size = dist::world_size();
//   LoaderBatchSource train(train_set, lo);            // this rank's shard
//   CocoMetricEvaluator evaluator({val_ann_file, {eval::IouType::segm}}, val_set->category_ids());
//   trainer.set_train_data(&train);
//   trainer.set_val(&val, &evaluator);
//
// Sharding: DataLoader::sampler_indices is mmengine's DefaultSampler, the
// same order as the engine's sampler_indices(size, epoch, rank, world,
// {shuffle, seed}) (the tests check they agree), so every rank yields the same
// number of batches. A batch's content depends only on (seed, epoch, rank,
// batch index): start_epoch(e, skip) rebuilds exactly the batches an
// interrupted run would have seen next.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "instseg/engine/interfaces.h"
#include "instseg/eval/coco_eval.h"
#include "instseg/io/coco_dataset.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/loader.h"
#include "instseg/io/results_json.h"

namespace instseg {

// BatchSource over a DataLoader (worker threads, aspect-ratio grouping).
class LoaderBatchSource : public BatchSource {
 public:
  LoaderBatchSource(std::shared_ptr<const CocoDataset> dataset, LoaderOptions options);

  int64_t batches_per_epoch() const override { return batches_per_epoch_; }
  void start_epoch(int64_t epoch, int64_t skip = 0) override;
  optional<Batch> next() override;

  const DataLoader& loader() const { return loader_; }
  const LoaderOptions& options() const { return options_; }

 private:
  LoaderOptions options_;
  DataLoader loader_;
  int64_t batches_per_epoch_ = 0;
};

struct CocoMetricOptions {
  std::string ann_file;                                     // GT instances file
  std::vector<eval::IouType> metrics{eval::IouType::segm};  // evaluated in this order
  bool classwise = false;                                   // also log the per-category table
  int threads = 0;                                          // COCOeval threads (0: every CPU)
  // Take result boxes from the masks (SOLOv2 predicts no boxes of its own).
  bool bbox_from_mask = false;
  // CocoMetric's proposal_nums -> COCOeval params.maxDets (see mmdet_proposal_nums()).
  std::vector<int64_t> proposal_nums{100, 300, 1000};
  // CocoMetric's outfile_prefix: compute() writes <prefix>.bbox.json (boxes
  // only) and, with segm, <prefix>.segm.json. format_only: only that, no
  // evaluation (compute() returns no metrics).
  std::string outfile_prefix;
  bool format_only = false;
  // Log the report (validation); off when the caller prints last_report()
  // itself (`instseg test` prints it to stdout).
  bool log_report = true;
  std::string results_name = "<results>";  // names the results in error messages
};

// mmdetection's CocoMetric: collects every image's detections (once per image
// id: the sampler's padding repeats images on some ranks), writes them when
// asked (outfile_prefix), then runs the COCO evaluation (pycocotools-exact,
// evaluate_coco_report in io/coco_eval_io.h) with maxDets =
// proposal_nums and returns, for each metric type in options order,
//   coco/<type>_mAP, coco/<type>_mAP_50, _mAP_75, _mAP_s, _mAP_m, _mAP_l
// rounded to 3 decimals like mmdet, in that order; the 12-line summaries and
// the "<type>_mAP_copypaste:" lines go to the log.
class CocoMetricEvaluator : public Evaluator {
 public:
  // label_to_cat: the dataset's contiguous label -> COCO category id.
  CocoMetricEvaluator(CocoMetricOptions options, std::vector<int64_t> label_to_cat);

  void reset() override;
  void process(const Batch& batch, const std::vector<Instances>& predictions) override;
  Metrics compute() override;
  std::string dump_partial() const override;
  void merge_partial(const std::string& bytes) override;

  // Images with results so far, and every result in GT-file image order.
  size_t num_images() const { return per_image_.size(); }
  std::vector<CocoResult> results() const;
  // The summaries and copypaste lines of the last compute().
  const std::string& last_report() const { return last_report_; }
  const CocoFile& gt() const { return gt_; }

 private:
  CocoMetricOptions options_;
  std::vector<int64_t> label_to_cat_;
  CocoFile gt_;
  std::map<int64_t, std::vector<CocoResult>> per_image_;  // image id -> its results
  std::string last_report_;
};

// mmdet's metric names of one iou type with the stats they take.
std::vector<std::pair<std::string, double>> coco_metric_values(eval::IouType type,
                                                               const std::array<double, 12>& stats);

}  // namespace instseg
