#include "instseg/io/engine_adapters.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "instseg/engine/sampler.h"
#include "io/toy_dataset.h"

namespace instseg {
namespace {

std::shared_ptr<const CocoDataset> toy(int n, bool test_mode = false) {
  const std::string dir = test::make_toy_dataset(n);
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  o.test_mode = test_mode;
  o.pipeline = {TransformSpec{RandomFlipOptions{}}};
  return std::make_shared<const CocoDataset>(o);
}

// The io loader's sampler and the engine's are the same DefaultSampler.
TEST(EngineAdapters, LoaderSamplerEqualsEngineSampler) {
  for (int64_t n : {1, 7, 16, 33})
    for (int world : {1, 2, 3, 8})
      for (int rank = 0; rank < world; ++rank)
        for (int64_t epoch : {0, 5})
          for (bool shuffle : {true, false}) {
            SamplerOptions so;
            so.shuffle = shuffle;
            so.seed = 42;
            EXPECT_EQ(DataLoader::sampler_indices(n, shuffle, 42, epoch, rank, world),
                      sampler_indices(n, epoch, rank, world, so))
                << "n " << n << " rank " << rank << "/" << world << " epoch " << epoch;
          }
}

std::vector<Batch> drain(LoaderBatchSource& s) {
  std::vector<Batch> out;
  while (auto b = s.next()) out.push_back(std::move(*b));
  return out;
}

// start_epoch(e, skip) gives exactly the tail of the full epoch e (exact resume).
TEST(EngineAdapters, SkipGivesTheTailOfTheEpoch) {
  auto ds = toy(11);
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_workers = 2;
  lo.seed = 7;
  lo.aspect_ratio_grouping = true;
  LoaderBatchSource src(ds, lo);
  EXPECT_EQ(src.batches_per_epoch(), 6);  // ceil(11 / 2), whatever the grouping
  for (int64_t epoch : {0, 3}) {
    src.start_epoch(epoch, 0);
    const auto full = drain(src);
    ASSERT_EQ(static_cast<int64_t>(full.size()), src.batches_per_epoch());
    src.start_epoch(epoch, 4);
    const auto tail = drain(src);
    ASSERT_EQ(tail.size(), 2u);
    for (size_t k = 0; k < tail.size(); ++k) {
      const Batch& a = full[k + 4];
      const Batch& b = tail[k];
      ASSERT_EQ(a.metas.size(), b.metas.size());
      for (size_t i = 0; i < a.metas.size(); ++i) {
        EXPECT_EQ(a.metas[i].image_id, b.metas[i].image_id);
        EXPECT_EQ(a.metas[i].flip, b.metas[i].flip);  // same per-sample random draws
      }
      EXPECT_TRUE(at::equal(a.images, b.images));
    }
  }
  // Different epochs shuffle differently.
  src.start_epoch(0, 0);
  const auto e0 = drain(src);
  src.start_epoch(1, 0);
  const auto e1 = drain(src);
  std::vector<int64_t> ids0, ids1;
  for (const auto& b : e0)
    for (const auto& m : b.metas) ids0.push_back(m.image_id);
  for (const auto& b : e1)
    for (const auto& m : b.metas) ids1.push_back(m.image_id);
  EXPECT_NE(ids0, ids1);
  // Skipping past the end gives an empty epoch.
  src.start_epoch(0, 6);
  EXPECT_FALSE(src.next().has_value());
}

// Two ranks: the same number of batches; together every image (with padding).
TEST(EngineAdapters, ShardsHaveEqualLength) {
  auto ds = toy(9);
  std::set<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions lo;
    lo.batch_size = 2;
    lo.num_workers = 0;
    lo.rank = rank;
    lo.world_size = 2;
    LoaderBatchSource src(ds, lo);
    EXPECT_EQ(src.batches_per_epoch(), 3);  // 5 samples per rank (9 padded to 10)
    src.start_epoch(0, 0);
    for (const auto& b : drain(src))
      for (const auto& m : b.metas) seen.insert(m.image_id);
  }
  EXPECT_EQ(seen.size(), 9u);
}

// The dataset's own GT as predictions (score s), one image per batch.
void process_gt(const CocoDataset& ds, const std::vector<int64_t>& items, CocoMetricEvaluator* ev,
                double score = 0.9) {
  for (int64_t i : items) {
    const Sample s = ds.load(i);
    Batch b;
    b.metas.push_back(s.meta);
    Instances ins;
    const int64_t n = static_cast<int64_t>(s.num_instances());
    ins.labels = at::tensor(s.labels, at::kLong);
    ins.scores = at::full({n}, score, at::kFloat);
    ins.bboxes = at::zeros({n, 4}, at::kFloat);
    ins.masks = at::zeros({n, s.image.rows, s.image.cols}, at::kByte);
    for (int64_t k = 0; k < n; ++k) {
      const cv::Mat& m = s.masks[static_cast<size_t>(k)];
      std::memcpy(ins.masks[k].data_ptr<uint8_t>(), m.data, static_cast<size_t>(m.rows * m.cols));
      float* bb = ins.bboxes[k].data_ptr<float>();
      for (int c = 0; c < 4; ++c) bb[c] = s.boxes[static_cast<size_t>(k)][static_cast<size_t>(c)];
    }
    ev->process(b, {ins});
  }
}

TEST(EngineAdapters, CocoMetricPerfectHalfAndEmpty) {
  auto ds = toy(4, /*test_mode=*/true);
  CocoMetricOptions mo;
  mo.ann_file = ds->options().ann_file;
  mo.metrics = {eval::IouType::bbox, eval::IouType::segm};
  mo.threads = 1;
  CocoMetricEvaluator ev(mo, ds->category_ids());

  // Every GT detected exactly: AP 1 everywhere (every box is small: area 80).
  process_gt(*ds, {0, 1, 2, 3}, &ev);
  process_gt(*ds, {1, 2}, &ev, 0.1);  // sampler padding repeats: ignored (first kept)
  EXPECT_EQ(ev.num_images(), 4u);
  auto m = ev.compute();
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_50"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_75"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_s"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_m"), -1.0);  // no medium / large GT
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_l"), -1.0);
  EXPECT_DOUBLE_EQ(m.at("coco/bbox_mAP"), 1.0);
  EXPECT_EQ(m.size(), 12u);
  EXPECT_NE(ev.last_report().find("segm_mAP_copypaste: 1.000 1.000 1.000 1.000 -1.000 -1.000"), std::string::npos)
      << ev.last_report();
  EXPECT_NE(ev.last_report().find("Evaluating bbox..."), std::string::npos);
  // mmdet's order: per metric type (options order) mAP, _50, _75, _s, _m, _l.
  const std::vector<std::string> order = {"coco/bbox_mAP",    "coco/bbox_mAP_50", "coco/bbox_mAP_75",
                                          "coco/bbox_mAP_s",  "coco/bbox_mAP_m",  "coco/bbox_mAP_l",
                                          "coco/segm_mAP",    "coco/segm_mAP_50", "coco/segm_mAP_75",
                                          "coco/segm_mAP_s",  "coco/segm_mAP_m",  "coco/segm_mAP_l"};
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(m.entries()[i].first, order[i]);
  // CocoMetric's maxDets = proposal_nums (100, 300, 1000): mAP at 100, the rest at 1000.
  EXPECT_NE(ev.last_report().find("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"),
            std::string::npos) << ev.last_report();
  EXPECT_NE(ev.last_report().find("Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=1000 ] = 1.000"),
            std::string::npos) << ev.last_report();
  EXPECT_NE(ev.last_report().find("Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=300 ] = 1.000"),
            std::string::npos) << ev.last_report();

  // Categories 10 / 15 / 20 hold images {0, 3}, {1}, {2}. Detecting only
  // images 0 and 1: category 10 has recall 1/2 (AP = 51/101 over the 101
  // recall thresholds), 15 has AP 1, 20 has AP 0 -> mean 0.50165 -> 0.502.
  ev.reset();
  process_gt(*ds, {0, 1}, &ev);
  m = ev.compute();
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP"), 0.502);
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP_50"), 0.502);

  // Distributed: rank 1's partial merged into rank 0's gives the same numbers.
  CocoMetricEvaluator r0(mo, ds->category_ids()), r1(mo, ds->category_ids());
  process_gt(*ds, {0, 2}, &r0);
  process_gt(*ds, {1, 3, 0}, &r1);  // image 0 again (padding on another rank)
  r0.merge_partial(r1.dump_partial());
  EXPECT_EQ(r0.num_images(), 4u);
  EXPECT_DOUBLE_EQ(r0.compute().at("coco/segm_mAP"), 1.0);
  EXPECT_THROW(r0.merge_partial("{not json"), Error);

  // No detections at all: zeros, no exception.
  ev.reset();
  m = ev.compute();
  EXPECT_DOUBLE_EQ(m.at("coco/segm_mAP"), 0.0);
  EXPECT_EQ(m.size(), 12u);
  EXPECT_EQ(m.entries().front().first, "coco/bbox_mAP");
  EXPECT_EQ(m.entries().back().first, "coco/segm_mAP_l");
}

// CocoMetric's outfile_prefix / format_only (what `instseg test` writes).
TEST(EngineAdapters, CocoMetricWritesPrefixedResultsAndFormatOnly) {
  auto ds = toy(4, /*test_mode=*/true);
  const std::string dir = test::temp_dir("coco_metric_prefix");
  CocoMetricOptions mo;
  mo.ann_file = ds->options().ann_file;
  mo.metrics = {eval::IouType::segm};
  mo.threads = 1;
  mo.outfile_prefix = dir + "/res";
  mo.log_report = false;
  CocoMetricEvaluator ev(mo, ds->category_ids());
  process_gt(*ds, {0, 1, 2, 3}, &ev);
  EXPECT_DOUBLE_EQ(ev.compute().at("coco/segm_mAP"), 1.0);
  const auto boxes = load_results_json(dir + "/res.bbox.json");
  const auto masks = load_results_json(dir + "/res.segm.json");
  ASSERT_EQ(boxes.size(), ev.results().size());
  ASSERT_EQ(masks.size(), boxes.size());
  EXPECT_EQ(boxes[0].segmentation.kind, CocoSegmentation::Kind::none);
  EXPECT_EQ(masks[0].segmentation.kind, CocoSegmentation::Kind::rle_compressed);
  EXPECT_TRUE(boxes[0].has_bbox);

  mo.format_only = true;
  mo.outfile_prefix = dir + "/only";
  CocoMetricEvaluator fo(mo, ds->category_ids());
  process_gt(*ds, {0, 1}, &fo);
  EXPECT_TRUE(fo.compute().empty());
  EXPECT_TRUE(fo.last_report().empty());
  EXPECT_EQ(load_results_json(dir + "/only.segm.json").size(), fo.results().size());
}

TEST(EngineAdapters, MetricNames) {
  std::array<double, 12> st{};
  for (size_t i = 0; i < 12; ++i) st[i] = 0.1234 * static_cast<double>(i + 1);
  const auto v = coco_metric_values(eval::IouType::segm, st);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].first, "coco/segm_mAP");
  EXPECT_DOUBLE_EQ(v[0].second, 0.123);
  EXPECT_EQ(v[5].first, "coco/segm_mAP_l");
  EXPECT_DOUBLE_EQ(v[5].second, 0.740);
}

}  // namespace
}  // namespace instseg
