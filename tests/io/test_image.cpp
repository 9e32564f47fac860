#include "instseg/io/image.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

#include "common/test_util.h"
#include "instseg/core/check.h"

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

}  // namespace
}  // namespace instseg
