// A tiny COCO dataset written to a temp dir: images of several sizes and
// aspect ratios with one polygon instance each (image i has label i % 3).
#pragma once
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/test_util.h"

namespace instseg::test {

// Returns the directory; annotations in dir/ann.json, images in dir/img/.
// Image i is (w, h) = (40 + 8 * (i % 5), 32 + 12 * (i % 3)), so both buckets
// (w < h and w >= h) occur. Image `empty_id` (if >= 0) gets no annotation.
inline std::string make_toy_dataset(int n, int empty_id = -1) {
  const std::string dir = temp_dir("toy_coco");
  const std::string img_dir = dir + "/img";
  std::filesystem::create_directories(img_dir);
  std::string images, anns;
  int ann_id = 100;
  for (int i = 0; i < n; ++i) {
    const int w = 40 + 8 * (i % 5), h = 32 + 12 * (i % 3);
    cv::Mat m(h, w, CV_8UC3, cv::Scalar(i * 3 % 256, 50, 200));
    const std::string name = "im" + std::to_string(i) + ".png";
    cv::imwrite(img_dir + "/" + name, m);
    if (!images.empty()) images += ",";
    images += "{\"id\": " + std::to_string(1000 + i) + ", \"file_name\": \"" + name +
              "\", \"width\": " + std::to_string(w) + ", \"height\": " + std::to_string(h) + "}";
    if (i == empty_id) continue;
    if (!anns.empty()) anns += ",";
    anns += "{\"id\": " + std::to_string(ann_id++) + ", \"image_id\": " + std::to_string(1000 + i) +
            ", \"category_id\": " + std::to_string(10 + 5 * (i % 3)) +
            ", \"bbox\": [2, 3, 10, 8], \"area\": 80, \"iscrowd\": 0,"
            " \"segmentation\": [[2, 3, 12, 3, 12, 11, 2, 11]]}";
  }
  std::ofstream(dir + "/ann.json")
      << "{\"images\": [" << images << "], \"annotations\": [" << anns
      << "], \"categories\": [{\"id\": 10, \"name\": \"a\"}, {\"id\": 15, \"name\": \"b\"},"
         " {\"id\": 20, \"name\": \"c\"}]}";
  return dir;
}

}  // namespace instseg::test
