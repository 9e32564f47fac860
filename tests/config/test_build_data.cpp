#include "instseg/config/build_data.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

#include "instseg/config/overrides.h"

namespace instseg {
namespace {

using test::error_of;

using test::Y;

// mmdet's coco_instance test/train dataloaders as mmengine dumps them.
const char* kTestLoader = R"(
test_dataloader:
  batch_size: 1
  num_workers: 2
  persistent_workers: true
  drop_last: false
  sampler: {type: DefaultSampler, shuffle: false}
  dataset:
    type: CocoDataset
    data_root: data/coco/
    ann_file: annotations/instances_val2017.json
    data_prefix: {img: val2017/}
    test_mode: true
    backend_args: null
    pipeline:
      - {type: LoadImageFromFile, backend_args: null}
      - {type: Resize, scale: [1333, 800], keep_ratio: true}
      - {type: LoadAnnotations, with_bbox: true, with_mask: true}
      - type: PackDetInputs
        meta_keys: [img_id, img_path, ori_shape, img_shape, scale_factor]
test_evaluator:
  type: CocoMetric
  ann_file: data/coco/annotations/instances_val2017.json
  metric: [bbox, segm]
  format_only: false
  backend_args: null
)";

TEST(BuildData, TestDataloaderAndEvaluator) {
  ConfigNode cfg = Y(kTestLoader);
  DataloaderSpec s = dataloader_spec_from(cfg, "test_dataloader");
  EXPECT_EQ(s.batch_size, 1);
  EXPECT_EQ(s.num_workers, 2);
  EXPECT_FALSE(s.shuffle);
  EXPECT_FALSE(s.drop_last);
  EXPECT_FALSE(s.aspect_ratio_grouping);
  EXPECT_EQ(s.seed, -1);
  const CocoDatasetOptions& d = s.dataset.coco;
  EXPECT_EQ(s.dataset.data_root, "data/coco/");
  EXPECT_EQ(d.ann_file, "data/coco/annotations/instances_val2017.json");
  EXPECT_EQ(d.img_dir, "data/coco/val2017/");
  EXPECT_TRUE(d.test_mode);
  EXPECT_TRUE(d.with_gt);
  EXPECT_TRUE(d.with_mask);
  EXPECT_TRUE(d.classes.empty());
  EXPECT_FALSE(d.filter_empty_gt);
  ASSERT_EQ(d.pipeline.size(), 1u);
  const auto* r = std::get_if<ResizeOptions>(&d.pipeline[0].op);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->scale.w, 1333);
  EXPECT_EQ(r->scale.h, 800);
  EXPECT_TRUE(r->keep_ratio);

  EvaluatorSpec e = evaluator_spec_from(cfg, "test_evaluator");
  EXPECT_EQ(e.ann_file, "data/coco/annotations/instances_val2017.json");  // not joined to data_root
  ASSERT_EQ(e.metrics.size(), 2u);
  EXPECT_EQ(e.metrics[0], eval::IouType::bbox);
  EXPECT_EQ(e.metrics[1], eval::IouType::segm);
  EXPECT_FALSE(e.format_only);
  EXPECT_FALSE(e.classwise);

  LoaderOptions lo = s.loader_options(CollateOptions{});
  EXPECT_EQ(lo.batch_size, 1);
  EXPECT_FALSE(lo.shuffle);
  EXPECT_TRUE(lo.collate.with_gt);
}

TEST(BuildData, PathsFollowCfgOptions) {
  ConfigNode cfg = Y(kTestLoader);
  apply_overrides(cfg, {"test_dataloader.dataset.data_root=/d/nuclei", "test_dataloader.dataset.ann_file=/abs/a.json",
                        "test_evaluator.metric=segm"});
  DataloaderSpec s = dataloader_spec_from(cfg, "test_dataloader");
  EXPECT_EQ(s.dataset.coco.ann_file, "/abs/a.json");  // absolute: not joined
  EXPECT_EQ(s.dataset.coco.img_dir, "/d/nuclei/val2017/");
  EvaluatorSpec e = evaluator_spec_from(cfg, "test_evaluator");
  ASSERT_EQ(e.metrics.size(), 1u);
  EXPECT_EQ(e.metrics[0], eval::IouType::segm);
  // No data_root: paths stay as written (relative to the current directory).
  apply_overrides(cfg, {"test_dataloader.dataset.data_root=None", "test_dataloader.dataset.ann_file=x/a.json",
                        "test_dataloader.dataset.data_prefix.img=imgs"});
  s = dataloader_spec_from(cfg, "test_dataloader");
  EXPECT_EQ(s.dataset.coco.ann_file, "x/a.json");
  EXPECT_EQ(s.dataset.coco.img_dir, "imgs");
  EXPECT_EQ(join_data_path("r", "a"), "r/a");
  EXPECT_EQ(join_data_path("r/", "a"), "r/a");
  EXPECT_EQ(join_data_path("r", "/a"), "/a");
  EXPECT_EQ(join_data_path("", "a"), "a");
}

TEST(BuildData, TrainDataloaderDefaultsAndFilter) {
  ConfigNode cfg = Y(R"(
train_dataloader:
  batch_size: 2
  sampler: {type: DefaultSampler, shuffle: true, seed: 7}
  batch_sampler: {type: AspectRatioBatchSampler}
  dataset:
    type: CocoDataset
    ann_file: train.json
    metainfo:
      classes: [nucleus]
      palette: [[220, 20, 60]]
    filter_cfg: {filter_empty_gt: true, min_size: 32}
    pipeline:
      - {type: LoadImageFromFile}
      - {type: LoadAnnotations, with_bbox: true, with_mask: true, poly2mask: true}
      - {type: Resize, scale: 512, keep_ratio: false}
      - {type: RandomFlip, prob: 0.5}
      - {type: PackDetInputs}
)");
  DataloaderSpec s = dataloader_spec_from(cfg, "train_dataloader");
  EXPECT_EQ(s.batch_size, 2);
  EXPECT_EQ(s.num_workers, 0);  // mmengine's default
  EXPECT_TRUE(s.shuffle);
  EXPECT_EQ(s.seed, 7);
  EXPECT_TRUE(s.aspect_ratio_grouping);
  const CocoDatasetOptions& d = s.dataset.coco;
  EXPECT_EQ(d.ann_file, "train.json");
  EXPECT_EQ(d.img_dir, ".");
  EXPECT_FALSE(d.test_mode);
  EXPECT_TRUE(d.filter_empty_gt);
  EXPECT_EQ(d.min_size, 32);
  EXPECT_EQ(d.classes, std::vector<std::string>{"nucleus"});
  ASSERT_EQ(s.dataset.palette.size(), 1u);
  EXPECT_EQ(s.dataset.palette[0], (std::array<uint8_t, 3>{220, 20, 60}));
  ASSERT_EQ(d.pipeline.size(), 2u);
  const auto& r = std::get<ResizeOptions>(d.pipeline[0].op);
  EXPECT_EQ(r.scale.w, 512);  // an int scale is (s, s)
  EXPECT_EQ(r.scale.h, 512);
  EXPECT_FALSE(r.keep_ratio);
  EXPECT_DOUBLE_EQ(std::get<RandomFlipOptions>(d.pipeline[1].op).prob, 0.5);
  LoaderOptions lo = s.loader_options(CollateOptions{});
  EXPECT_EQ(lo.seed, 7u);
  EXPECT_TRUE(lo.aspect_ratio_grouping);
}

TEST(BuildData, RandomFlipDirectionsAndProbLists) {
  // mmcv: direction a string or a list; prob one number (split evenly) or one per direction.
  ConfigNode list = Y(R"(
p:
  - {type: LoadImageFromFile}
  - {type: RandomFlip, prob: 0.75, direction: [horizontal, vertical, diagonal]}
  - {type: RandomFlip, prob: [0.3, 0.5], direction: [vertical, horizontal]}
  - {type: RandomFlip, prob: 0.5, direction: vertical}
)")["p"];
  PipelineSpec p = pipeline_spec_from(list, "train_pipeline");
  ASSERT_EQ(p.transforms.size(), 3u);
  const auto& a = std::get<RandomFlipOptions>(p.transforms[0].op);
  EXPECT_DOUBLE_EQ(a.prob, 0.75);
  EXPECT_TRUE(a.probs.empty());
  EXPECT_EQ(a.directions, (std::vector<FlipDirection>{FlipDirection::horizontal, FlipDirection::vertical,
                                                      FlipDirection::diagonal}));
  const auto& b = std::get<RandomFlipOptions>(p.transforms[1].op);
  EXPECT_EQ(b.probs, (std::vector<double>{0.3, 0.5}));
  EXPECT_EQ(b.directions, (std::vector<FlipDirection>{FlipDirection::vertical, FlipDirection::horizontal}));
  const auto& c = std::get<RandomFlipOptions>(p.transforms[2].op);
  EXPECT_EQ(c.directions, (std::vector<FlipDirection>{FlipDirection::vertical}));
}

TEST(BuildData, EveryStepKind) {
  // QueryInst's 300-proposal crop pipeline plus RandomResize in both forms.
  ConfigNode list = Y(R"(
p:
  - {type: LoadImageFromFile, backend_args: null}
  - {type: LoadAnnotations, with_bbox: true, with_mask: false}
  - {type: RandomFlip, prob: 0.5, direction: horizontal}
  - type: RandomChoice
    transforms:
      - - type: RandomChoiceResize
          scales: [[480, 1333], [512, 1333], [800, 1333]]
          keep_ratio: true
      - - {type: RandomChoiceResize, scales: [[400, 1333], [500, 1333], [600, 1333]], keep_ratio: true}
        - {type: RandomCrop, crop_type: absolute_range, crop_size: [384, 600], allow_negative_crop: true}
        - {type: RandomChoiceResize, scales: [[480, 1333], [800, 1333]], keep_ratio: true}
    prob: [0.25, 0.75]
  - {type: RandomResize, scale: [[1333, 640], [1333, 800]], keep_ratio: true}
  - {type: RandomResize, scale: [1024, 1024], ratio_range: [0.1, 2.0], keep_ratio: true}
  - {type: RandomCrop, crop_type: relative_range, crop_size: [0.5, 0.8], recompute_bbox: true}
  - {type: PackDetInputs}
)")["p"];
  PipelineSpec p = pipeline_spec_from(list, "train_pipeline");
  EXPECT_TRUE(p.load_image);
  EXPECT_TRUE(p.with_gt);
  EXPECT_FALSE(p.with_mask);
  EXPECT_TRUE(p.pack);
  ASSERT_EQ(p.transforms.size(), 5u);
  EXPECT_DOUBLE_EQ(std::get<RandomFlipOptions>(p.transforms[0].op).prob, 0.5);

  const auto& rc = std::get<RandomChoiceOptions>(p.transforms[1].op);
  ASSERT_EQ(rc.branches.size(), 2u);
  EXPECT_EQ(rc.probs, (std::vector<double>{0.25, 0.75}));
  ASSERT_EQ(rc.branches[0].size(), 1u);
  ASSERT_EQ(rc.branches[1].size(), 3u);
  const auto& rcr = std::get<RandomChoiceResizeOptions>(rc.branches[0][0].op);
  ASSERT_EQ(rcr.scales.size(), 3u);
  EXPECT_EQ(rcr.scales[1].w, 512);
  EXPECT_EQ(rcr.scales[1].h, 1333);
  EXPECT_TRUE(rcr.keep_ratio);
  const auto& crop = std::get<RandomCropOptions>(rc.branches[1][1].op);
  EXPECT_EQ(crop.crop_type, RandomCropOptions::Type::absolute_range);
  EXPECT_EQ(crop.crop_h, 384);
  EXPECT_EQ(crop.crop_w, 600);
  EXPECT_TRUE(crop.allow_negative_crop);

  const auto& rr = std::get<RandomResizeOptions>(p.transforms[2].op);
  ASSERT_EQ(rr.scales.size(), 2u);
  EXPECT_EQ(rr.scales[0].h, 640);
  EXPECT_EQ(rr.scales[1].h, 800);
  EXPECT_EQ(rr.ratio_min, 0);
  const auto& rr2 = std::get<RandomResizeOptions>(p.transforms[3].op);
  ASSERT_EQ(rr2.scales.size(), 1u);
  EXPECT_EQ(rr2.scales[0].w, 1024);
  EXPECT_DOUBLE_EQ(rr2.ratio_min, 0.1);
  EXPECT_DOUBLE_EQ(rr2.ratio_max, 2.0);
  const auto& crop2 = std::get<RandomCropOptions>(p.transforms[4].op);
  EXPECT_EQ(crop2.crop_type, RandomCropOptions::Type::relative_range);
  EXPECT_DOUBLE_EQ(crop2.crop_w, 0.8);
  EXPECT_TRUE(crop2.recompute_bbox);
  EXPECT_FALSE(crop2.allow_negative_crop);  // default

  // The built pipeline runs (the specs are valid for io::Pipeline).
  Pipeline built(p.transforms);
  EXPECT_FALSE(built.empty());
}

TEST(BuildData, PipelineDefaults) {
  PipelineSpec p = pipeline_spec_from(Y("p: [{type: LoadImageFromFile}, {type: Resize, scale: [640, 480]}]")["p"], "p");
  EXPECT_FALSE(p.with_gt);  // no LoadAnnotations
  EXPECT_FALSE(p.pack);
  const auto& r = std::get<ResizeOptions>(p.transforms[0].op);
  EXPECT_FALSE(r.keep_ratio);  // mmcv Resize's default
  EXPECT_TRUE(r.clip_object_border);
  EXPECT_EQ(test_scale_of(p).w, 640);
  EXPECT_EQ(test_scale_of(PipelineSpec{}).w, 1333);
  // LoadAnnotations: with_bbox defaults to True, with_mask to False.
  p = pipeline_spec_from(Y("p: [{type: LoadImageFromFile}, {type: LoadAnnotations}]")["p"], "p");
  EXPECT_TRUE(p.with_gt);
  EXPECT_FALSE(p.with_mask);
}

TEST(BuildData, Errors) {
  auto pipe = [](const std::string& yaml) {
    return error_of([&] { pipeline_spec_from(Y(yaml)["p"], "test_pipeline"); });
  };
  // Unknown key, with a suggestion.
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: Resize, scale: [1, 2], keep_ration: true}]")
                .find("test_pipeline.1.keep_ration"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: Resize, scale: [1, 2], keep_ration: true}]")
                .find("did you mean 'keep_ratio'"),
            std::string::npos);
  // Unsupported step type.
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: Mosaic}]").find("unsupported type 'Mosaic'"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: Resize, scale: [1, 2]}]").find("no LoadImageFromFile"), std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: PackDetInputs}, {type: RandomFlip, prob: 0.5}]")
                .find("after PackDetInputs"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: Resize, scale_factor: 2.0, scale: [1, 2]}]")
                .find("scale_factor"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomFlip, prob: 0.5, direction: sideways}]")
                .find("unknown direction 'sideways'"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomFlip, prob: [0.3, 0.5], direction: vertical}]")
                .find("needs as many directions"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomFlip, prob: [0.6, 0.5], "
                 "direction: [horizontal, vertical]}]")
                .find("sum to at most 1"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomResize, scale: [1333, 800]}]").find("two"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomCrop, crop_size: [0.5, 0.5]}]")
                .find("positive integers"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: RandomChoice, transforms: [[{type: LoadAnnotations}]]}]")
                .find("cannot be inside RandomChoice"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile}, {type: LoadAnnotations, with_seg: true}]").find("with_seg"),
            std::string::npos);
  EXPECT_NE(pipe("p: [{type: LoadImageFromFile, to_float32: true}]").find("to_float32"), std::string::npos);

  // Dataset / dataloader level.
  ConfigNode cfg = Y(kTestLoader);
  cfg["test_dataloader"]["dataset"]["type"] = "LVISV1Dataset";
  EXPECT_NE(error_of([&] { dataloader_spec_from(cfg, "test_dataloader"); })
                .find("test_dataloader.dataset.type: unsupported type 'LVISV1Dataset'"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_dataloader"]["dataset"]["data_prefx"] = ConfigNode::object();
  EXPECT_NE(error_of([&] { dataloader_spec_from(cfg, "test_dataloader"); })
                .find("test_dataloader.dataset.data_prefx"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_dataloader"]["sampler"]["type"] = "InfiniteSampler";
  EXPECT_NE(error_of([&] { dataloader_spec_from(cfg, "test_dataloader"); }).find("InfiniteSampler"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_dataloader"]["batch_size"] = 0;
  EXPECT_NE(error_of([&] { dataloader_spec_from(cfg, "test_dataloader"); }).find("batch_size"), std::string::npos);
  EXPECT_NE(error_of([&] { dataloader_spec_from(cfg, "val_dataloader"); }).find("no 'val_dataloader'"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_evaluator"]["metric"] = "proposal";
  EXPECT_NE(error_of([&] { evaluator_spec_from(cfg, "test_evaluator"); }).find("unsupported metric 'proposal'"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_evaluator"]["clas_wise"] = true;
  EXPECT_NE(error_of([&] { evaluator_spec_from(cfg, "test_evaluator"); }).find("test_evaluator.clas_wise"),
            std::string::npos);
  cfg = Y(kTestLoader);
  cfg["test_evaluator"]["format_only"] = true;
  EXPECT_NE(error_of([&] { evaluator_spec_from(cfg, "test_evaluator"); }).find("outfile_prefix"),
            std::string::npos);
}

TEST(BuildData, EvaluatorDefaultsAndCollate) {
  EvaluatorSpec e = evaluator_spec_from(Y("e: {type: CocoMetric, classwise: true}"), "e");
  ASSERT_EQ(e.metrics.size(), 1u);
  EXPECT_EQ(e.metrics[0], eval::IouType::bbox);  // CocoMetric's default
  EXPECT_TRUE(e.classwise);
  EXPECT_TRUE(e.ann_file.empty());
  EXPECT_EQ(e.proposal_nums, (std::vector<int64_t>{100, 300, 1000}));  // mmdet's CocoMetric default
  e = evaluator_spec_from(Y("e: {type: CocoMetric, proposal_nums: [10, 100, 200]}"), "e");
  EXPECT_EQ(e.proposal_nums, (std::vector<int64_t>{10, 100, 200}));
  EXPECT_NE(error_of([&] { evaluator_spec_from(Y("e: {type: CocoMetric, proposal_nums: [100, 300]}"), "e"); })
                .find("e.proposal_nums: needs at least 3 values"),
            std::string::npos);
  EXPECT_NE(error_of([&] { evaluator_spec_from(Y("e: {type: CocoMetric, proposal_nums: [0, 100, 300]}"), "e"); })
                .find("e.proposal_nums: values must be >= 1"),
            std::string::npos);

  PreprocessOptions p;
  p.mean = {1, 2, 3};
  p.std = {4, 5, 6};
  p.pad_size_divisor = 64;
  CollateOptions c = collate_options_from(p);
  EXPECT_EQ(c.mean[2], 3);
  EXPECT_EQ(c.std[0], 4);
  EXPECT_EQ(c.size_divisor, 64);
  p.bgr_to_rgb = false;
  EXPECT_NE(error_of([&] { collate_options_from(p); }).find("bgr_to_rgb"), std::string::npos);
}

}  // namespace
}  // namespace instseg
