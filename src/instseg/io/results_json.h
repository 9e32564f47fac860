// COCO detection results files (the list mmdetection's CocoMetric writes and
// pycocotools' COCO.loadRes reads):
//   [{"image_id": 1, "category_id": 18, "score": 0.93,
//     "bbox": [x, y, w, h], "segmentation": {"size": [h, w], "counts": "..."}}, ...]
// `category_id` is the COCO id, not the contiguous label. LibTorch-free
// (instseg_io_coco); model outputs -> entries: io/instances_to_results.h.
#pragma once
#include "instseg/io/coco_json.h"

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

struct CocoResult {
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  bool has_bbox = false;
  double bbox[4] = {0, 0, 0, 0};  // [x, y, w, h]
  // Kind::none when the entry has no "segmentation". Compressed RLE is what
  // mmdet writes; uncompressed counts and polygons are accepted as well.
  CocoSegmentation segmentation;
};

// Reads a results list with a streaming parser. Throws instseg::Error naming
// the file and the byte offset (invalid or truncated JSON) or the entry and
// field ("dets.json: results[12].score: expected a number").
std::vector<CocoResult> load_results_json(const std::string& path);

// Writes a results list (one entry per line, numbers in shortest round-trip
// form as Python's json.dump writes them). Entries without a bbox or a
// segmentation omit that key.
void save_results_json(const std::string& path, const std::vector<CocoResult>& results);

// One entry as save_results_json writes it (one line, no trailing newline);
// for files written incrementally (io/json_array_file.h).
std::string result_json(const CocoResult& r);

}  // namespace instseg
