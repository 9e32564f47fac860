// mmdetection's data sections -> io options (an explicit switch on every `type`):
//
//   train_dataloader / val_dataloader / test_dataloader = dict(
//       batch_size, num_workers, persistent_workers, drop_last, pin_memory,
//       sampler=dict(type='DefaultSampler', shuffle), batch_sampler=dict(type='AspectRatioBatchSampler'),
//       dataset=dict(type='CocoDataset', data_root, ann_file, data_prefix=dict(img=...),
//                    metainfo=dict(classes=..., palette=...), filter_cfg=dict(filter_empty_gt, min_size),
//                    pipeline=[...], test_mode, backend_args))
//   val_evaluator / test_evaluator = dict(type='CocoMetric', ann_file, metric, format_only, classwise, ...)
//
//   ConfigNode cfg = load_config_with_overrides(path, cfg_options);
//   DataloaderSpec test = dataloader_spec_from(cfg, "test_dataloader");
//   auto dataset = std::make_shared<CocoDataset>(test.dataset);
//   LoaderOptions lo = test.loader_options(collate_options_from(model_spec.preprocess));
//
// Pipeline steps: LoadImageFromFile, LoadAnnotations, Resize, RandomFlip,
// RandomChoiceResize, RandomResize, RandomChoice, RandomCrop, PackDetInputs.
// LoadImageFromFile / LoadAnnotations are what CocoDataset::load does (their
// options only decide with_gt / with_mask) wherever they stand in the list;
// PackDetInputs must be last. Normalisation and padding are the model's
// data_preprocessor (collate_options_from).
//
// Paths, as mmengine's BaseDataset._join_prefix: a relative ann_file and
// data_prefix.img are joined to data_root; a relative data_root (and anything
// relative left after the join) is relative to the CURRENT DIRECTORY, not to
// the config file. The evaluator's ann_file is NOT joined to data_root (as in
// mmdet). Change them with --cfg-options, e.g.
//   test_dataloader.dataset.data_root=/data/coco/ test_evaluator.ann_file=/data/coco/annotations/x.json
//
// Unknown keys are errors naming the dotted path; options instseg accepts but
// cannot honour (scale_factor, non-cv2 backends, ...) are errors too.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "instseg/config/config_reader.h"
#include "instseg/eval/coco_eval.h"
#include "instseg/io/coco_dataset.h"
#include "instseg/io/loader.h"
#include "instseg/models/model.h"

namespace instseg {

// What a pipeline list says besides its geometric transforms.
struct PipelineSpec {
  std::vector<TransformSpec> transforms;  // Resize, RandomFlip, ... in order
  bool load_image = false;                // LoadImageFromFile present
  bool with_gt = false;                   // LoadAnnotations present (with_bbox or with_mask)
  bool with_mask = false;                 // LoadAnnotations(with_mask=True)
  bool pack = false;                      // PackDetInputs present (last)
};

// The `dataset` dict, with paths resolved.
struct DatasetSpec {
  std::string data_root;                   // as written ("" when absent)
  std::vector<std::array<uint8_t, 3>> palette;  // metainfo.palette (RGB), empty when absent
  CocoDatasetOptions coco;                 // ann_file / img_dir resolved, pipeline filled
};

struct DataloaderSpec {
  int64_t batch_size = 1;
  int num_workers = 0;
  bool drop_last = false;
  bool shuffle = false;                // sampler.shuffle (DefaultSampler's default is True)
  int64_t seed = -1;                   // sampler.seed; -1 when absent (engine's randomness.seed)
  bool aspect_ratio_grouping = false;  // batch_sampler AspectRatioBatchSampler
  DatasetSpec dataset;

  // Loader options with the given collate options (seed 0 when unset).
  LoaderOptions loader_options(const CollateOptions& collate) const;
};

struct EvaluatorSpec {
  std::string ann_file;                    // "" when absent: use the dataset's ann_file
  std::vector<eval::IouType> metrics;      // in config order ('bbox', 'segm')
  bool format_only = false;
  bool classwise = false;
  std::string outfile_prefix;              // "" when absent
  std::vector<int64_t> proposal_nums = {100, 300, 1000};  // COCOeval's maxDets (mmdet's default)
};

// The pipeline list at `path` (e.g. "test_dataloader.dataset.pipeline").
PipelineSpec pipeline_spec_from(const ConfigNode& list, const std::string& path);

// root[key]["dataset"] etc.; errors when root[key] is absent or null.
DataloaderSpec dataloader_spec_from(const ConfigNode& root, const std::string& key);
// The pieces, for tests and other builders (`r` is the dataset / dataloader dict).
DatasetSpec dataset_spec_from(ConfigReader& r);
DataloaderSpec dataloader_spec_from(ConfigReader& r);

// root[key] (val_evaluator / test_evaluator); errors when absent.
EvaluatorSpec evaluator_spec_from(const ConfigNode& root, const std::string& key);
EvaluatorSpec evaluator_spec_from(ConfigReader& r);

// mmengine's join: `prefix` + "/" + `rel` unless rel is absolute or prefix empty.
std::string join_data_path(const std::string& prefix, const std::string& rel);

// The model's data_preprocessor as collate options (mean/std RGB, pad divisor,
// pad value). bgr_to_rgb = false is rejected: images are decoded as RGB.
CollateOptions collate_options_from(const PreprocessOptions& p);

// The keep-ratio test scale of a pipeline: the first Resize's scale, or
// (1333, 800) when there is none.
Scale test_scale_of(const PipelineSpec& p);

}  // namespace instseg
