// Input image files -> the ids of a COCO annotation file's images, so that
// `instseg predict --ann GT.json` writes results that `instseg eval` (and
// pycocotools) can evaluate against GT.json.
//
//   CocoFile gt = load_coco_json("val.json");
//   std::vector<int64_t> ids = image_ids_for_files(gt, {"imgs/000009.jpg", ...});
//
// A file matches the image whose file_name equals its path or is its trailing
// path component(s) ("data/val/000009.jpg" matches "000009.jpg" and
// "val/000009.jpg"); the longest matching file_name wins. A file that matches
// no image, or two images equally well, is an error naming the file and the
// annotation file.
#pragma once
#include "instseg/io/coco_json.h"

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

std::vector<int64_t> image_ids_for_files(const CocoFile& gt, const std::vector<std::string>& files);

}  // namespace instseg
