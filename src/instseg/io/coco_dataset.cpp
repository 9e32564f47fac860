#include "instseg/io/coco_dataset.h"

#include <filesystem>
#include <unordered_set>

#include "instseg/core/log.h"
#include "instseg/eval/rle.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/image.h"

namespace instseg {

namespace fs = std::filesystem;

CocoDataset::CocoDataset(CocoDatasetOptions opts)
    : opts_(std::move(opts)), coco_(load_coco_json(opts_.ann_file)), pipeline_(opts_.pipeline) {
  const std::string& file = coco_.path;
  // Classes: the selected categories in file order.
  std::unordered_set<std::string> wanted(opts_.classes.begin(), opts_.classes.end());
  for (const auto& c : coco_.categories) {
    if (!wanted.empty() && !wanted.count(c.name)) continue;
    cat2label_[c.id] = static_cast<int64_t>(cat_ids_.size());
    cat_ids_.push_back(c.id);
    class_names_.push_back(c.name);
  }
  if (!wanted.empty()) {
    std::unordered_set<std::string> found(class_names_.begin(), class_names_.end());
    for (const auto& name : opts_.classes)
      if (!found.count(name)) fail(file, ": categories: no category named '", name, "'");
  }
  if (cat_ids_.empty()) fail(file, ": categories: no categories selected");

  // Annotations per image, in file order (pycocotools imgToAnns).
  std::vector<std::vector<size_t>> per_image(coco_.images.size());
  for (size_t a = 0; a < coco_.annotations.size(); ++a)
    per_image[coco_.image_index.at(coco_.annotations[a].image_id)].push_back(a);

  size_t skipped_box = 0, skipped_area = 0, skipped_seg = 0;
  for (size_t im = 0; im < coco_.images.size(); ++im) {
    const CocoImage& img = coco_.images[im];
    if (img.width <= 0 || img.height <= 0)
      fail(file, ": images[", im, "] (id ", img.id, "): missing or invalid width/height");
    bool has_cat_ann = false;  // mmdet filter_empty_gt looks at raw annotations
    Item item{im, {}};
    for (size_t a : per_image[im]) {
      const CocoAnnotation& ann = coco_.annotations[a];
      if (!cat2label_.count(ann.category_id)) continue;
      has_cat_ann = true;
      if (!ann.has_bbox || !ann.has_area) {
        ++skipped_box;
        continue;
      }
      const double x1 = ann.bbox[0], y1 = ann.bbox[1], w = ann.bbox[2], h = ann.bbox[3];
      const double iw = std::max(0.0, std::min(x1 + w, static_cast<double>(img.width)) - std::max(x1, 0.0));
      const double ih = std::max(0.0, std::min(y1 + h, static_cast<double>(img.height)) - std::max(y1, 0.0));
      if (iw * ih == 0) {
        ++skipped_box;
        continue;
      }
      if (ann.area <= 0 || w < 1 || h < 1) {
        ++skipped_area;
        continue;
      }
      const auto& seg = ann.segmentation;
      if (opts_.with_gt && opts_.with_mask &&
          (seg.kind == CocoSegmentation::Kind::none ||
           (seg.kind == CocoSegmentation::Kind::polygons && seg.polygons.empty()))) {
        ++skipped_seg;
        continue;
      }
      item.anns.push_back(a);
    }
    if (!opts_.test_mode) {
      if (opts_.filter_empty_gt && !has_cat_ann) continue;
      if (std::min(img.width, img.height) < opts_.min_size) continue;
    }
    items_.push_back(std::move(item));
  }
  if (skipped_box + skipped_area + skipped_seg > 0)
    log_warning(file, ": skipped ", skipped_box + skipped_area + skipped_seg,
                " invalid annotations (", skipped_box, " without a box inside the image, ",
                skipped_area, " with area <= 0 or w/h < 1, ", skipped_seg, " without a mask)");
  log_info(file, ": ", items_.size(), " of ", coco_.images.size(), " images, ", cat_ids_.size(),
           " classes", opts_.test_mode ? " (test mode)" : "");
}

const CocoImage& CocoDataset::image_info(int64_t i) const {
  INSTSEG_CHECK(i >= 0 && i < size(), "CocoDataset: index ", i, " out of range [0, ", size(), ")");
  return coco_.images[items_[static_cast<size_t>(i)].image];
}

const std::vector<size_t>& CocoDataset::annotation_indices(int64_t i) const {
  INSTSEG_CHECK(i >= 0 && i < size(), "CocoDataset: index ", i, " out of range [0, ", size(), ")");
  return items_[static_cast<size_t>(i)].anns;
}

int64_t CocoDataset::num_instances(int64_t i) const {
  return static_cast<int64_t>(annotation_indices(i).size());
}

int64_t CocoDataset::label_of_category(int64_t category_id) const {
  const auto it = cat2label_.find(category_id);
  return it == cat2label_.end() ? -1 : it->second;
}

int64_t CocoDataset::category_of_label(int64_t label) const {
  INSTSEG_CHECK(label >= 0 && label < num_classes(), "label ", label, " out of range [0, ",
                num_classes(), ")");
  return cat_ids_[static_cast<size_t>(label)];
}

std::string CocoDataset::image_path(const CocoImage& img) const {
  const fs::path dir(opts_.img_dir);
  const fs::path p = dir / img.file_name;
  std::error_code ec;  // a name the file system refuses (too long) is then reported missing by the reader
  if (fs::exists(p, ec)) return p.string();
  const fs::path base = dir / fs::path(img.file_name).filename();
  if (fs::exists(base, ec)) return base.string();
  return p.string();  // read_image_rgb reports it missing
}

namespace {

// LoadAnnotations._poly2mask: polygons -> frPyObjects + merge, uncompressed
// RLE -> frPyObjects, compressed RLE as is; then decode.
cv::Mat rasterise(const CocoSegmentation& seg, int64_t h, int64_t w, const std::string& where) {
  rle::Rle r;
  try {
    r = segmentation_to_rle(seg, h, w);
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  if (r.h != h || r.w != w)
    fail(where, ": mask size ", r.h, "x", r.w, " differs from the image size ", h, "x", w);
  cv::Mat m(static_cast<int>(h), static_cast<int>(w), CV_8UC1);
  rle::decode(r, m.ptr<uint8_t>());
  return m;
}

}  // namespace

Sample CocoDataset::load(int64_t i) const {
  const CocoImage& info = image_info(i);
  Sample s;
  const std::string path = image_path(info);
  s.image = read_image_rgb(path);
  const int64_t h = s.image.rows, w = s.image.cols;
  if (h != info.height || w != info.width)
    fail(path, ": decoded size ", w, "x", h, " differs from ", coco_.path, " images (id ", info.id,
         ") width x height ", info.width, "x", info.height);
  s.meta.image_id = info.id;
  s.meta.file = path;
  s.meta.ori_h = s.meta.img_h = h;
  s.meta.ori_w = s.meta.img_w = w;
  if (!opts_.with_gt) return s;
  const auto& anns = items_[static_cast<size_t>(i)].anns;
  s.boxes.reserve(anns.size());
  for (size_t a : anns) {
    const CocoAnnotation& ann = coco_.annotations[a];
    const double x1 = ann.bbox[0], y1 = ann.bbox[1];
    s.boxes.push_back({static_cast<float>(x1), static_cast<float>(y1),
                       static_cast<float>(x1 + ann.bbox[2]), static_cast<float>(y1 + ann.bbox[3])});
    s.labels.push_back(cat2label_.at(ann.category_id));
    s.ignore.push_back(ann.iscrowd ? 1 : 0);
    if (opts_.with_mask) {
      s.masks.push_back(ann.iscrowd ? cv::Mat()
                                    : rasterise(ann.segmentation, h, w,
                                                str_cat(coco_.path, ": annotation id ", ann.id)));
    }
  }
  return s;
}

Sample CocoDataset::get(int64_t i, uint64_t seed) const {
  Rng rng(seed);
  int64_t idx = i;
  for (int attempt = 0; attempt <= 1000; ++attempt) {
    Sample s = load(idx);
    if (pipeline_(s, rng)) return s;
    if (opts_.test_mode)
      fail(s.meta.file, ": the pipeline dropped a test image (RandomCrop in a test pipeline?)");
    idx = rng.randint(0, size() - 1);
  }
  fail(coco_.path, ": the pipeline dropped 1000 samples in a row (RandomCrop without boxes?)");
}

}  // namespace instseg
