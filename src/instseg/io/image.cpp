#include "instseg/io/image.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "instseg/core/check.h"
#include "instseg/core/log.h"
#include "instseg/io/image_header.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <cstdlib>

namespace instseg {
namespace {

std::atomic<int64_t> g_max_pixels{-1};  // -1: not read from the environment yet

std::string limit_hint() {
  return "set INSTSEG_MAX_IMAGE_PIXELS=<pixels> to raise it (0 = no limit), or downscale the image";
}

void check_pixels(int64_t w, int64_t h, const std::string& name) {
  const int64_t limit = max_image_pixels();
  if (limit <= 0 || w < 0 || h < 0) return;
  // w, h < 2^32 each: the product fits in 64 bits.
  if (w * h > limit)
    fail(name, ": image is ", w, "x", h, " = ", w * h, " pixels, more than the limit of ", limit,
         " (a guard against decompression bombs, like Pillow's); ", limit_hint());
}

}  // namespace

int64_t max_image_pixels() {
  int64_t v = g_max_pixels.load();
  if (v >= 0) return v;
  v = kDefaultMaxImagePixels;
  if (const char* env = std::getenv("INSTSEG_MAX_IMAGE_PIXELS")) {
    char* end = nullptr;
    const long long x = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && x >= 0) v = x;
    else log_warning("INSTSEG_MAX_IMAGE_PIXELS='", env, "' is not a number of pixels; using ", v);
  }
  int64_t expected = -1;
  g_max_pixels.compare_exchange_strong(expected, v);
  return g_max_pixels.load();
}

void set_max_image_pixels(int64_t pixels) { g_max_pixels = pixels < 0 ? 0 : pixels; }

cv::Mat decode_image_rgb(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) fail(name, ": empty image file");
  const ImageHeader header = probe_image_header(bytes.data(), bytes.size());
  check_pixels(header.width, header.height, name);
  if (header.truncated && header.format == "jpeg")
    log_warning(name, ": truncated JPEG (", header.problem,
                "); libjpeg fills in the missing part, so the bottom of the image is wrong");
  cv::Mat bgr;
  try {
    // mmcv reads the bytes and calls cv2.imdecode with IMREAD_COLOR.
    bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U,
                               const_cast<uint8_t*>(bytes.data())),
                       cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    if (std::string(e.what()).find("CV_IO_MAX_IMAGE_PIXELS") != std::string::npos)
      fail(name, ": image exceeds OpenCV's pixel limit OPENCV_IO_MAX_IMAGE_PIXELS (", e.what(), ")");
    fail(name, ": cannot decode image (", e.what(), ")");
  }
  if (bgr.empty()) {
    if (header.truncated)
      fail(name, ": cannot decode image: truncated ", header.format, " file (", header.problem, ")");
    fail(name, ": cannot decode image (not a supported image format or corrupt)");
  }
  // Formats whose header we do not read are checked after decoding.
  check_pixels(bgr.cols, bgr.rows, name);
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

bool has_image_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::vector<std::string> image_files_in(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  INSTSEG_CHECK(fs::is_directory(dir, ec), dir, ": not a directory");
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && has_image_extension(it->path().string())) files.push_back(it->path().string());
  INSTSEG_CHECK(!ec, dir, ": cannot list the directory: ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace instseg
