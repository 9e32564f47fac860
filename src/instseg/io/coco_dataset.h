// mmdetection's CocoDataset (3.x): a COCO instances file plus an image folder.
//
// Construction parses the JSON (SAX, see coco_json.h), maps category ids to
// contiguous labels and applies parse_data_info's annotation filter:
// annotations whose box does not overlap the image, with area <= 0, w < 1 or
// h < 1, or (when masks are loaded) without a segmentation are skipped, with
// one summary warning. Crowd annotations are kept as `ignore` instances (they
// take part in RandomCrop's box check, collate drops them). In training
// (test_mode false) filter_empty_gt drops images without any annotation of the
// selected classes and min_size drops images whose shorter edge is smaller.
//
// load(i) = LoadImageFromFile + LoadAnnotations(with_bbox, with_mask,
// poly2mask): masks are rasterised at the original size with pycocotools'
// semantics (instseg::rle). get(i, seed) also runs the pipeline.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "instseg/io/coco_json.h"
#include "instseg/io/sample.h"
#include "instseg/io/transforms.h"

namespace instseg {

struct CocoDatasetOptions {
  std::string ann_file;              // instances JSON
  std::string img_dir;               // images are img_dir/file_name
  std::vector<std::string> classes;  // empty: every category of the file
  bool test_mode = false;            // keep every image (evaluation); GT still loaded if with_gt
  bool filter_empty_gt = true;       // training only (mmdet filter_cfg)
  int64_t min_size = 0;              // training only: drop images with min(w, h) < min_size
  bool with_gt = true;               // load boxes/labels (and masks if with_mask)
  bool with_mask = true;
  std::vector<TransformSpec> pipeline;  // applied by get()
};

class CocoDataset {
 public:
  explicit CocoDataset(CocoDatasetOptions opts);

  int64_t size() const { return static_cast<int64_t>(items_.size()); }
  const CocoDatasetOptions& options() const { return opts_; }
  const CocoFile& coco() const { return coco_; }

  // The COCO image record of dataset item i.
  const CocoImage& image_info(int64_t i) const;
  // Valid annotations of item i (indices into coco().annotations), crowd included.
  const std::vector<size_t>& annotation_indices(int64_t i) const;
  int64_t num_instances(int64_t i) const;

  // Labels: contiguous 0..C-1 in the file order of the selected categories
  // (mmdet: cat_ids = coco.get_cat_ids(cat_names=classes), cat2label).
  int64_t num_classes() const { return static_cast<int64_t>(cat_ids_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<int64_t>& category_ids() const { return cat_ids_; }
  int64_t label_of_category(int64_t category_id) const;  // -1 when not selected
  int64_t category_of_label(int64_t label) const;        // throws when out of range

  // Image i plus its annotations, before any transform (ori = img size).
  Sample load(int64_t i) const;
  // load + pipeline. When the pipeline drops the sample (RandomCrop without
  // boxes) a random other item is tried, as mmengine's BaseDataset does
  // (max 1000 refetches); `seed` makes every choice reproducible.
  Sample get(int64_t i, uint64_t seed) const;

  // Path of an image file: img_dir/file_name, or img_dir/basename(file_name)
  // when only the latter exists (labelme exports write "JPEGImages/x.jpg").
  std::string image_path(const CocoImage& img) const;

 private:
  CocoDatasetOptions opts_;
  CocoFile coco_;
  Pipeline pipeline_;
  std::vector<int64_t> cat_ids_;
  std::vector<std::string> class_names_;
  std::unordered_map<int64_t, int64_t> cat2label_;
  struct Item {
    size_t image;                   // index into coco_.images
    std::vector<size_t> anns;       // valid annotations
  };
  std::vector<Item> items_;
};

}  // namespace instseg
