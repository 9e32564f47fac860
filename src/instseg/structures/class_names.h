// Class names of a model's labels when nothing better is known.
//
// mmdetection keeps the names in the dataset's metainfo (checkpoint
// meta.dataset_meta.classes, the config's metainfo.classes); its
// inference_detector falls back to COCO's names with a warning. instseg does
// the same in DetectorImpl::class_names() (models/detector.h): COCO's 80 names
// for an 80-class model, otherwise "0".."N-1".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// COCO 2017's 80 thing classes in label order (mmdet CocoDataset.METAINFO
// 'classes'; the categories of instances_*2017.json sorted by id).
const std::vector<std::string>& coco_class_names();

// coco_class_names() when num_classes == 80, else "0".."num_classes-1".
std::vector<std::string> default_class_names(int64_t num_classes);

}  // namespace instseg
