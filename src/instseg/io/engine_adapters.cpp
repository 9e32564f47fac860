#include "instseg/io/engine_adapters.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "instseg/core/check.h"
#include "instseg/core/log.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/instances_to_results.h"

namespace instseg {

// ---------------------------------------------------------------- LoaderBatchSource

LoaderBatchSource::LoaderBatchSource(std::shared_ptr<const CocoDataset> dataset, LoaderOptions options)
    : options_(options), loader_(dataset, options) {
  // The batch count is the same in every epoch: aspect grouping only
  // reorders, and its leftovers are batched together (ceil(n / batch_size)).
  const auto indices = DataLoader::sampler_indices(dataset->size(), options_.shuffle, options_.seed, 0,
                                                   options_.rank, options_.world_size);
  batches_per_epoch_ = static_cast<int64_t>(
      DataLoader::batch_indices(indices, dataset.get(), options_.batch_size, options_.drop_last,
                                options_.aspect_ratio_grouping)
          .size());
}

void LoaderBatchSource::start_epoch(int64_t epoch, int64_t skip) {
  INSTSEG_CHECK(skip >= 0, "LoaderBatchSource: negative skip ", skip);
  loader_.set_epoch(epoch, skip);
  if (loader_.num_batches() != batches_per_epoch_)
    log_warning("LoaderBatchSource: epoch ", epoch, " has ", loader_.num_batches(), " batches, expected ",
                batches_per_epoch_);
}

optional<Batch> LoaderBatchSource::next() { return loader_.next(); }

// ---------------------------------------------------------------- CocoMetricEvaluator

namespace {

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// mmdet's CocoMetric.results2json with outfile_prefix: <prefix>.bbox.json
// (boxes only) and, for segm, <prefix>.segm.json (boxes and masks).
void write_prefixed_results(const std::string& prefix, const std::vector<CocoResult>& results, bool segm) {
  std::vector<CocoResult> boxes_only = results;
  for (auto& r : boxes_only) r.segmentation = CocoSegmentation{};
  save_results_json(prefix + ".bbox.json", boxes_only);
  log_info("CocoMetric: wrote ", prefix, ".bbox.json");
  if (segm) {
    save_results_json(prefix + ".segm.json", results);
    log_info("CocoMetric: wrote ", prefix, ".segm.json");
  }
}

}  // namespace

std::vector<std::pair<std::string, double>> coco_metric_values(eval::IouType type,
                                                               const std::array<double, 12>& stats) {
  // mmdet CocoMetric: coco_metric_names mAP=0, mAP_50=1, mAP_75=2, mAP_s=3, mAP_m=4, mAP_l=5,
  // values float(f'{round(stats[i], 3)}').
  const std::string p = std::string("coco/") + eval::iou_type_name(type) + "_";
  static const char* const kNames[6] = {"mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"};
  std::vector<std::pair<std::string, double>> out;
  for (int i = 0; i < 6; ++i) out.emplace_back(p + kNames[i], round3(stats[static_cast<size_t>(i)]));
  return out;
}

CocoMetricEvaluator::CocoMetricEvaluator(CocoMetricOptions options, std::vector<int64_t> label_to_cat)
    : options_(std::move(options)), label_to_cat_(std::move(label_to_cat)) {
  INSTSEG_CHECK(!options_.metrics.empty(), "CocoMetricEvaluator: no metrics");
  gt_ = load_coco_json(options_.ann_file);
  for (int64_t c : label_to_cat_)
    if (!gt_.category_index.count(c))
      fail(options_.ann_file, ": category id ", c, " of the dataset is not in the evaluation file");
}

void CocoMetricEvaluator::reset() {
  per_image_.clear();
  last_report_.clear();
}

void CocoMetricEvaluator::process(const Batch& batch, const std::vector<Instances>& predictions) {
  INSTSEG_CHECK(predictions.size() == batch.metas.size(), "CocoMetricEvaluator: ", predictions.size(),
                " predictions for ", batch.metas.size(), " images");
  for (size_t i = 0; i < predictions.size(); ++i) {
    const int64_t id = batch.metas[i].image_id;
    // The sampler pads the last round with repeated images: keep the first.
    if (per_image_.count(id)) continue;
    Instances d = predictions[i];
    d.image_id = id;
    std::vector<CocoResult>& out = per_image_[id];
    append_results(d, label_to_cat_, options_.bbox_from_mask, &out);
  }
}

std::vector<CocoResult> CocoMetricEvaluator::results() const {
  // GT-file image order (= the unshuffled val loader's order), unknown ids last.
  std::vector<std::pair<size_t, int64_t>> order;
  for (const auto& kv : per_image_) {
    auto it = gt_.image_index.find(kv.first);
    order.emplace_back(it == gt_.image_index.end() ? std::numeric_limits<size_t>::max() : it->second, kv.first);
  }
  std::sort(order.begin(), order.end());
  std::vector<CocoResult> out;
  for (const auto& o : order) {
    const auto& v = per_image_.at(o.second);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

Metrics CocoMetricEvaluator::compute() {
  const std::vector<CocoResult> res = results();
  Metrics metrics;
  last_report_.clear();
  log_info("CocoMetric: ", res.size(), " detections on ", per_image_.size(), " images (", gt_.images.size(),
           " in ", options_.ann_file, ")");
  const bool segm =
      std::find(options_.metrics.begin(), options_.metrics.end(), eval::IouType::segm) != options_.metrics.end();
  if (!options_.outfile_prefix.empty()) write_prefixed_results(options_.outfile_prefix, res, segm);
  if (options_.format_only) {
    log_info("CocoMetric: format_only: results written to ", options_.outfile_prefix, ".*.json, no evaluation");
    return metrics;
  }
  if (res.empty()) {
    // mmdet logs "The testing results of the whole dataset is empty." and
    // reports nothing; zeros keep the metric curves continuous.
    log_warning("CocoMetric: the testing results of the whole dataset are empty: every AP is 0");
    for (const eval::IouType t : options_.metrics)
      for (const auto& kv : coco_metric_values(t, std::array<double, 12>{})) metrics.set(kv.first, 0.0);
    return metrics;
  }
  CocoEvalRequest req;
  req.types = options_.metrics;
  req.segm_area_from_mask = true;  // mmdet's CocoMetric drops the boxes for segm: the area ranges use mask areas
  req.classwise = options_.classwise;
  req.threads = options_.threads;
  req.max_dets = options_.proposal_nums;
  req.style = CocoEvalRequest::Style::mmdet;
  const CocoEvalOutcome outcome = evaluate_coco_report(gt_, res, options_.results_name, req);
  last_report_ = outcome.text;
  if (options_.log_report) log_info(outcome.text.substr(0, outcome.text.size() - 1));  // without the last newline
  for (const CocoEvalReport& r : outcome.reports)
    for (const auto& kv : coco_metric_values(r.type, r.stats)) metrics.set(kv.first, kv.second);
  return metrics;
}

std::string CocoMetricEvaluator::dump_partial() const {
  nlohmann::json images = nlohmann::json::array();
  for (const auto& kv : per_image_) {
    nlohmann::json dets = nlohmann::json::array();
    for (const CocoResult& r : kv.second) {
      nlohmann::json d = {{"c", r.category_id}, {"s", r.score}};
      if (r.has_bbox) d["b"] = {r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3]};
      if (r.segmentation.kind == CocoSegmentation::Kind::rle_compressed)
        d["m"] = {r.segmentation.h, r.segmentation.w, r.segmentation.counts};
      dets.push_back(std::move(d));
    }
    images.push_back({{"id", kv.first}, {"d", std::move(dets)}});
  }
  return images.dump();
}

void CocoMetricEvaluator::merge_partial(const std::string& bytes) {
  nlohmann::json images;
  try {
    images = nlohmann::json::parse(bytes);
    for (const auto& img : images) {
      const int64_t id = img.at("id").get<int64_t>();
      if (per_image_.count(id)) continue;  // padding duplicate from another rank
      std::vector<CocoResult>& out = per_image_[id];
      for (const auto& d : img.at("d")) {
        CocoResult r;
        r.image_id = id;
        r.category_id = d.at("c").get<int64_t>();
        r.score = d.at("s").get<double>();
        if (d.contains("b")) {
          r.has_bbox = true;
          for (int k = 0; k < 4; ++k) r.bbox[k] = d.at("b").at(static_cast<size_t>(k)).get<double>();
        }
        if (d.contains("m")) {
          r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
          r.segmentation.h = d.at("m").at(0).get<int64_t>();
          r.segmentation.w = d.at("m").at(1).get<int64_t>();
          r.segmentation.counts = d.at("m").at(2).get<std::string>();
        }
        out.push_back(std::move(r));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail("CocoMetricEvaluator: malformed partial results from another rank: ", e.what());
  }
}

}  // namespace instseg
