#include "instseg/io/image.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "instseg/core/check.h"

namespace instseg {

cv::Mat decode_image_rgb(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) fail(name, ": empty image file");
  cv::Mat bgr;
  try {
    // mmcv reads the bytes and calls cv2.imdecode with IMREAD_COLOR.
    bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U,
                               const_cast<uint8_t*>(bytes.data())),
                       cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    fail(name, ": cannot decode image (", e.what(), ")");
  }
  if (bgr.empty()) fail(name, ": cannot decode image (not a supported image format or corrupt)");
  INSTSEG_CHECK(bgr.type() == CV_8UC3, name, ": unexpected decoded type ", bgr.type());
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat read_image_rgb(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": cannot open image file");
  const std::streamsize size = in.tellg();
  if (size < 0) fail(path, ": cannot read image file");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    fail(path, ": cannot read image file");
  return decode_image_rgb(bytes, path);
}

}  // namespace instseg
