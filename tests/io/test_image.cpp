#include "instseg/io/image.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error_of.h"
#include "common/test_util.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

// A BGR image with distinct channel values per pixel.
cv::Mat make_bgr(int h, int w) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(10 + x, 100 + y, 200 - x - y);
  return m;
}

TEST(Image, RgbPngIsSwappedToRgb) {
  const std::string dir = test::temp_dir("image");
  const cv::Mat bgr = make_bgr(3, 4);
  ASSERT_TRUE(cv::imwrite(dir + "/a.png", bgr));
  const cv::Mat rgb = read_image_rgb(dir + "/a.png");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  ASSERT_EQ(rgb.rows, 3);
  ASSERT_EQ(rgb.cols, 4);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      const auto p = rgb.at<cv::Vec3b>(y, x);
      EXPECT_EQ(p[0], 200 - x - y);  // R = BGR[2]
      EXPECT_EQ(p[1], 100 + y);
      EXPECT_EQ(p[2], 10 + x);
    }
}

TEST(Image, GrayPngBecomesThreeEqualChannels) {
  const std::string dir = test::temp_dir("image");
  cv::Mat g(2, 5, CV_8UC1);
  for (int i = 0; i < 10; ++i) g.data[i] = static_cast<uint8_t>(20 * i + 3);
  ASSERT_TRUE(cv::imwrite(dir + "/g.png", g));
  const cv::Mat rgb = read_image_rgb(dir + "/g.png");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  ASSERT_EQ(rgb.rows, 2);
  ASSERT_EQ(rgb.cols, 5);
  for (int i = 0; i < 10; ++i) {
    const auto p = rgb.at<cv::Vec3b>(i / 5, i % 5);
    EXPECT_EQ(p[0], 20 * i + 3);
    EXPECT_EQ(p[1], 20 * i + 3);
    EXPECT_EQ(p[2], 20 * i + 3);
  }
}

TEST(Image, RgbaPngDropsAlpha) {
  const std::string dir = test::temp_dir("image");
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(1, 2, 3, 0));  // fully transparent: alpha ignored
  bgra.at<cv::Vec4b>(1, 1) = cv::Vec4b(40, 50, 60, 128);
  ASSERT_TRUE(cv::imwrite(dir + "/r.png", bgra));
  const cv::Mat rgb = read_image_rgb(dir + "/r.png");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(3, 2, 1));
  EXPECT_EQ(rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(60, 50, 40));
}

TEST(Image, JpegDecodesLikeImdecode) {
  const std::string dir = test::temp_dir("image");
  const cv::Mat bgr = make_bgr(16, 16);
  ASSERT_TRUE(cv::imwrite(dir + "/c.jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 95}));
  const cv::Mat rgb = read_image_rgb(dir + "/c.jpg");
  const cv::Mat ref = cv::imread(dir + "/c.jpg", cv::IMREAD_COLOR);
  ASSERT_EQ(rgb.rows, 16);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      const auto a = rgb.at<cv::Vec3b>(y, x);
      const auto b = ref.at<cv::Vec3b>(y, x);
      ASSERT_EQ(a[0], b[2]);
      ASSERT_EQ(a[1], b[1]);
      ASSERT_EQ(a[2], b[0]);
    }
  // Lossy, but close to the source.
  EXPECT_NEAR(rgb.at<cv::Vec3b>(5, 5)[2], 15, 6);
  // A grayscale JPEG also becomes 3 channels.
  cv::Mat g(8, 8, CV_8UC1, cv::Scalar(77));
  ASSERT_TRUE(cv::imwrite(dir + "/g.jpg", g));
  const cv::Mat g3 = read_image_rgb(dir + "/g.jpg");
  ASSERT_EQ(g3.type(), CV_8UC3);
  EXPECT_NEAR(g3.at<cv::Vec3b>(3, 3)[0], 77, 1);
}

TEST(Image, UnreadableImageNamesTheFile) {
  const std::string dir = test::temp_dir("image");
  const std::string bad = dir + "/broken.jpg";
  std::ofstream(bad) << "this is not a jpeg";
  try {
    read_image_rgb(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ": cannot decode image"), std::string::npos)
        << e.what();
  }
  try {
    read_image_rgb(dir + "/missing.png");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/missing.png: cannot open image file"),
              std::string::npos)
        << e.what();
  }
  // A truncated PNG (valid header, data cut).
  ASSERT_TRUE(cv::imwrite(dir + "/t.png", make_bgr(32, 32)));
  std::ifstream in(dir + "/t.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/t2.png", std::ios::binary) << bytes.substr(0, 40);
  EXPECT_THROW(read_image_rgb(dir + "/t2.png"), Error);
}

std::string read_error(const std::string& path) {
  try {
    read_image_rgb(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A PNG that claims 20000 x 20000 pixels (the header alone: the guard must act
// before decoding; a real one takes 3.75 GB to decode).
std::string big_png_header() {
  std::vector<uint8_t> png;
  cv::imencode(".png", make_bgr(4, 4), png);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put32(16, 20000);
  put32(20, 20000);
  return std::string(png.begin(), png.end());
}

TEST(Image, PixelLimitRefusesDecompressionBombs) {
  const std::string dir = test::temp_dir("image_bomb");
  std::ofstream(dir + "/bomb.png", std::ios::binary) << big_png_header();
  const std::string err = read_error(dir + "/bomb.png");
  EXPECT_NE(err.find(dir + "/bomb.png: image is 20000x20000 = 400000000 pixels, more than the limit of 178956970"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("INSTSEG_MAX_IMAGE_PIXELS"), std::string::npos) << err;
}

TEST(Image, PixelLimitIsConfigurable) {
  const std::string dir = test::temp_dir("image_limit");
  ASSERT_TRUE(cv::imwrite(dir + "/a.png", make_bgr(20, 20)));
  ASSERT_TRUE(cv::imwrite(dir + "/a.jpg", make_bgr(20, 20)));
  const int64_t before = max_image_pixels();
  set_max_image_pixels(399);
  EXPECT_NE(read_error(dir + "/a.png").find("20x20 = 400 pixels, more than the limit of 399"), std::string::npos);
  EXPECT_NE(read_error(dir + "/a.jpg").find("20x20 = 400 pixels, more than the limit of 399"), std::string::npos);
  set_max_image_pixels(400);
  EXPECT_EQ(read_error(dir + "/a.png"), "");
  set_max_image_pixels(0);  // no limit
  std::ofstream(dir + "/bomb.png", std::ios::binary) << big_png_header();
  EXPECT_EQ(read_error(dir + "/bomb.png").find("pixels, more than"), std::string::npos);
  set_max_image_pixels(before);
}

// libjpeg decodes a truncated JPEG "successfully" (the missing rows made up)
// and only prints "Premature end of JPEG file", naming no file.
TEST(Image, TruncatedJpegWarnsNamingTheFile) {
  const std::string dir = test::temp_dir("image_trunc");
  std::vector<uint8_t> jpg;
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  ASSERT_TRUE(cv::imencode(".jpg", noise, jpg));
  const std::string path = dir + "/cut.jpg";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpg.data()),
                                              static_cast<std::streamsize>(jpg.size() * 6 / 10));
  ASSERT_TRUE(cv::imwrite(dir + "/whole.jpg", noise));
  const std::string log = dir + "/log.txt";
  set_log_file(log);
  const cv::Mat img = read_image_rgb(path);  // still decoded, as mmcv would
  read_image_rgb(dir + "/whole.jpg");
  set_log_file("");
  EXPECT_EQ(img.rows, 64);
  const std::string text = test::read_bytes(log);
  EXPECT_NE(text.find("WARNING - " + path + ": truncated JPEG"), std::string::npos) << text;
  EXPECT_EQ(text.find("whole.jpg"), std::string::npos) << text;
}

TEST(Image, TruncatedPngSaysSo) {
  const std::string dir = test::temp_dir("image_trunc_png");
  std::vector<uint8_t> png;
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  ASSERT_TRUE(cv::imencode(".png", noise, png));
  const std::string path = dir + "/cut.png";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(png.data()),
                                              static_cast<std::streamsize>(png.size() / 2));
  EXPECT_NE(read_error(path).find(path + ": cannot decode image: truncated png file"), std::string::npos)
      << read_error(path);
}

}  // namespace
}  // namespace instseg

namespace instseg {
namespace {

TEST(ImageFiles, ListsImageExtensionsInAnyCaseSorted) {
  EXPECT_TRUE(has_image_extension("a/b.JPG"));
  EXPECT_TRUE(has_image_extension("x.jpeg"));
  EXPECT_TRUE(has_image_extension("x.Png"));
  EXPECT_TRUE(has_image_extension("x.bmp"));
  EXPECT_FALSE(has_image_extension("x.txt"));
  EXPECT_FALSE(has_image_extension("png"));
  const std::string dir = test::temp_dir("image_files");
  for (const char* f : {"b.png", "a.JPG", "c.txt"}) std::ofstream(dir + "/" + f) << "x";
  std::filesystem::create_directories(dir + "/d.png");  // a directory named like an image is not a file
  const std::vector<std::string> files = image_files_in(dir);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(std::filesystem::path(files[0]).filename(), "a.JPG");
  EXPECT_EQ(std::filesystem::path(files[1]).filename(), "b.png");
  const std::string err = test::error_message_of([&] { image_files_in(dir + "/missing"); });
  EXPECT_NE(err.find("missing: not a directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace instseg
