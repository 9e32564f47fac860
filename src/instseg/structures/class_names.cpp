#include "instseg/structures/class_names.h"

#include "instseg/core/check.h"

namespace instseg {

const std::vector<std::string>& coco_class_names() {
  static const std::vector<std::string> names = {
      "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",
      "train",         "truck",        "boat",          "traffic light", "fire hydrant", "stop sign",
      "parking meter", "bench",        "bird",          "cat",           "dog",          "horse",
      "sheep",         "cow",          "elephant",      "bear",          "zebra",        "giraffe",
      "backpack",      "umbrella",     "handbag",       "tie",           "suitcase",     "frisbee",
      "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat", "baseball glove",
      "skateboard",    "surfboard",    "tennis racket", "bottle",        "wine glass",   "cup",
      "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",
      "sandwich",      "orange",       "broccoli",      "carrot",        "hot dog",      "pizza",
      "donut",         "cake",         "chair",         "couch",         "potted plant", "bed",
      "dining table",  "toilet",       "tv",            "laptop",        "mouse",        "remote",
      "keyboard",      "cell phone",   "microwave",     "oven",          "toaster",      "sink",
      "refrigerator",  "book",         "clock",         "vase",          "scissors",     "teddy bear",
      "hair drier",    "toothbrush"};
  return names;
}

std::vector<std::string> default_class_names(int64_t num_classes) {
  INSTSEG_CHECK(num_classes >= 0, "default_class_names: negative number of classes ", num_classes);
  if (num_classes == static_cast<int64_t>(coco_class_names().size())) return coco_class_names();
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < num_classes; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace instseg
