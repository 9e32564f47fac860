#include "instseg/io/transforms.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <map>
#include <set>
#include <string>

#include "instseg/io/collate.h"

namespace instseg {
namespace {

// A w x h sample whose pixel (x, y) is (x, y, 7) and one box/mask per entry.
Sample make_sample(int w, int h, const std::vector<std::array<float, 4>>& boxes) {
  Sample s;
  s.image = cv::Mat(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      s.image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x), static_cast<uint8_t>(y), 7);
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto& b = boxes[i];
    s.boxes.push_back(b);
    s.labels.push_back(static_cast<int64_t>(i));
    s.ignore.push_back(0);
    cv::Mat m = cv::Mat::zeros(h, w, CV_8UC1);
    m(cv::Rect(cv::Point(static_cast<int>(b[0]), static_cast<int>(b[1])),
               cv::Point(static_cast<int>(b[2]), static_cast<int>(b[3]))))
        .setTo(1);
    s.masks.push_back(m);
  }
  s.meta.ori_w = s.meta.img_w = w;
  s.meta.ori_h = s.meta.img_h = h;
  return s;
}

TEST(Transforms, RescaleSizeMatchesMmcv) {
  // Expected values from mmcv.rescale_size's formula evaluated in Python.
  struct Case {
    int64_t w, h, sw, sh, ew, eh;
  };
  const Case cases[] = {
      {640, 480, 1333, 800, 1067, 800}, {480, 640, 1333, 800, 800, 1067},
      {500, 375, 1333, 800, 1067, 800}, {2000, 500, 1333, 800, 1333, 333},
      {427, 640, 1333, 800, 800, 1199}, {640, 427, 1333, 800, 1199, 800},
      {333, 500, 1333, 800, 800, 1201}, {612, 612, 1333, 800, 800, 800},
      {696, 520, 1333, 800, 1071, 800}, {256, 320, 1333, 800, 800, 1000},
      {640, 480, 1333, 640, 853, 640},  {427, 640, 1333, 640, 640, 959},
      {696, 520, 640, 1333, 857, 640},  // scale order does not matter
  };
  for (const auto& c : cases) {
    int64_t w = 0, h = 0;
    rescale_size(c.w, c.h, {c.sw, c.sh}, &w, &h);
    EXPECT_EQ(w, c.ew) << c.w << "x" << c.h;
    EXPECT_EQ(h, c.eh) << c.w << "x" << c.h;
  }
}

TEST(Transforms, ResizeMovesBoxesAndMasks) {
  Sample s = make_sample(640, 480, {{10, 20, 30, 40}, {600, 400, 640, 480}});
  resize(s, {1333, 800}, true, true);
  EXPECT_EQ(s.image.cols, 1067);
  EXPECT_EQ(s.image.rows, 800);
  EXPECT_EQ(s.meta.img_w, 1067);
  EXPECT_EQ(s.meta.img_h, 800);
  EXPECT_EQ(s.meta.ori_w, 640);
  EXPECT_DOUBLE_EQ(s.meta.scale_w, 1067.0 / 640.0);
  EXPECT_DOUBLE_EQ(s.meta.scale_h, 800.0 / 480.0);
  // float32 products, as HorizontalBoxes.rescale_ (values from numpy).
  EXPECT_FLOAT_EQ(s.boxes[0][0], 16.671875f);
  EXPECT_FLOAT_EQ(s.boxes[0][1], 33.333332f);
  EXPECT_FLOAT_EQ(s.boxes[1][2], 1067.0f);  // clipped to the new width
  EXPECT_FLOAT_EQ(s.boxes[1][3], 800.0f);
  ASSERT_EQ(s.masks[0].cols, 1067);
  ASSERT_EQ(s.masks[0].rows, 800);
  // Nearest neighbour keeps {0,1}; the area scales by ~1.6672 * 1.6667.
  const double area = cv::sum(s.masks[0])[0];
  EXPECT_NEAR(area, 400 * (1067.0 / 640.0) * (800.0 / 480.0), 60);
  double mx = 0;
  cv::minMaxLoc(s.masks[0], nullptr, &mx);
  EXPECT_EQ(mx, 1.0);
  // Bilinear on a horizontal ramp: the image stays a ramp of x / scale.
  EXPECT_NEAR(s.image.at<cv::Vec3b>(100, 300)[0], 300 / (1067.0 / 640.0), 1.0);
  EXPECT_EQ(s.image.at<cv::Vec3b>(100, 300)[2], 7);
}

TEST(Transforms, ResizeWithoutKeepRatio) {
  Sample s = make_sample(64, 48, {{8, 8, 16, 16}});
  resize(s, {32, 32}, false, true);
  EXPECT_EQ(s.image.cols, 32);
  EXPECT_EQ(s.image.rows, 32);
  EXPECT_FLOAT_EQ(s.boxes[0][0], 4.0f);
  EXPECT_FLOAT_EQ(s.boxes[0][3], 16.0f * (32.0f / 48.0f));
}

TEST(Transforms, FlipMovesBoxesAndMasks) {
  Sample s = make_sample(10, 4, {{0, 1, 3, 4}});
  flip_horizontal(s);
  EXPECT_TRUE(s.meta.flip);
  EXPECT_FLOAT_EQ(s.boxes[0][0], 7.0f);
  EXPECT_FLOAT_EQ(s.boxes[0][2], 10.0f);
  EXPECT_FLOAT_EQ(s.boxes[0][1], 1.0f);
  EXPECT_EQ(s.masks[0].at<uint8_t>(1, 9), 1);
  EXPECT_EQ(s.masks[0].at<uint8_t>(1, 7), 1);
  EXPECT_EQ(s.masks[0].at<uint8_t>(1, 6), 0);
  EXPECT_EQ(s.masks[0].at<uint8_t>(0, 9), 0);
  EXPECT_EQ(s.image.at<cv::Vec3b>(2, 0)[0], 9);  // x ramp reversed
  flip_horizontal(s);
  EXPECT_FALSE(s.meta.flip);
  EXPECT_FLOAT_EQ(s.boxes[0][0], 0.0f);
}

TEST(Transforms, VerticalAndDiagonalFlips) {
  // mmcv.imflip: 'vertical' reverses rows, 'diagonal' reverses rows and
  // columns (a 180-degree rotation, not a transpose); boxes as
  // HorizontalBoxes.flip_: y' = h - y for vertical, both for diagonal.
  Sample v = make_sample(10, 4, {{0, 1, 3, 4}});
  flip(v, FlipDirection::vertical);
  EXPECT_TRUE(v.meta.flip);
  EXPECT_EQ(v.meta.flip_direction, "vertical");
  EXPECT_FLOAT_EQ(v.boxes[0][0], 0.0f);
  EXPECT_FLOAT_EQ(v.boxes[0][2], 3.0f);
  EXPECT_FLOAT_EQ(v.boxes[0][1], 0.0f);  // 4 - 4
  EXPECT_FLOAT_EQ(v.boxes[0][3], 3.0f);  // 4 - 1
  EXPECT_EQ(v.masks[0].at<uint8_t>(0, 0), 1);
  EXPECT_EQ(v.masks[0].at<uint8_t>(2, 2), 1);
  EXPECT_EQ(v.masks[0].at<uint8_t>(3, 0), 0);  // row 0 of the original, outside the box
  EXPECT_EQ(v.image.at<cv::Vec3b>(0, 5)[1], 3);  // y ramp reversed
  EXPECT_EQ(v.image.at<cv::Vec3b>(0, 5)[0], 5);  // x ramp kept

  Sample d = make_sample(10, 4, {{0, 1, 3, 4}});
  flip(d, FlipDirection::diagonal);
  EXPECT_EQ(d.meta.flip_direction, "diagonal");
  EXPECT_FLOAT_EQ(d.boxes[0][0], 7.0f);
  EXPECT_FLOAT_EQ(d.boxes[0][1], 0.0f);
  EXPECT_FLOAT_EQ(d.boxes[0][2], 10.0f);
  EXPECT_FLOAT_EQ(d.boxes[0][3], 3.0f);
  EXPECT_EQ(d.image.at<cv::Vec3b>(0, 0)[0], 9);
  EXPECT_EQ(d.image.at<cv::Vec3b>(0, 0)[1], 3);
  EXPECT_EQ(d.masks[0].at<uint8_t>(0, 9), 1);
  EXPECT_EQ(d.masks[0].at<uint8_t>(3, 9), 0);
  // The mask's box stays the flipped box.
  const cv::Rect r = cv::boundingRect(d.masks[0]);
  EXPECT_EQ(r.x, 7);
  EXPECT_EQ(r.y, 0);
  EXPECT_EQ(r.x + r.width, 10);
  EXPECT_EQ(r.y + r.height, 3);
}

TEST(Transforms, RandomFlipChoosesDirectionsAsMmcv) {
  // prob 0.75 over three directions: 0.25 each, no flip 0.25 (mmcv's
  // _choose_direction); a prob list gives each direction its own probability.
  auto count = [](const RandomFlipOptions& o) {
    std::map<std::string, int> n;
    const Pipeline p({TransformSpec{o}});
    for (uint64_t seed = 0; seed < 4000; ++seed) {
      Sample s = make_sample(6, 4, {{1, 1, 2, 2}});
      Rng rng(seed);
      EXPECT_TRUE(p(s, rng));
      ++n[s.meta.flip ? s.meta.flip_direction : "none"];
    }
    return n;
  };
  RandomFlipOptions even;
  even.prob = 0.75;
  even.directions = {FlipDirection::horizontal, FlipDirection::vertical, FlipDirection::diagonal};
  auto n = count(even);
  for (const char* k : {"horizontal", "vertical", "diagonal", "none"}) {
    EXPECT_GT(n[k], 900) << k;
    EXPECT_LT(n[k], 1100) << k;
  }
  RandomFlipOptions listed;
  listed.directions = {FlipDirection::vertical, FlipDirection::horizontal};
  listed.probs = {0.1, 0.6};
  n = count(listed);
  EXPECT_GT(n["vertical"], 320);
  EXPECT_LT(n["vertical"], 480);
  EXPECT_GT(n["horizontal"], 2280);
  EXPECT_LT(n["horizontal"], 2520);
  EXPECT_GT(n["none"], 1080);
  EXPECT_LT(n["none"], 1320);
  EXPECT_EQ(n.count("diagonal"), 0u);
}

TEST(Transforms, HsvShiftInOpenCvUint8Hsv) {
  // Pure colours convert exactly: red (0, 255, 255), grey (0, 0, 100) in
  // cv2's uint8 HSV (H = degrees / 2).
  auto one = [](uint8_t r, uint8_t g, uint8_t b) {
    Sample s;
    s.image = cv::Mat(1, 1, CV_8UC3, cv::Scalar(r, g, b));
    return s;
  };
  auto px = [](const Sample& s) { return s.image.at<cv::Vec3b>(0, 0); };
  Sample a = one(255, 0, 0);
  hsv_shift(a, 60, 0, 0);  // H 0 -> 60: green
  EXPECT_EQ(px(a), cv::Vec3b(0, 255, 0));
  Sample b = one(255, 0, 0);
  hsv_shift(b, -60, 0, 0);  // (0 - 60) mod 180 = 120: blue
  EXPECT_EQ(px(b), cv::Vec3b(0, 0, 255));
  Sample c = one(100, 100, 100);
  hsv_shift(c, 0, 0, -55);  // V 100 -> 45
  EXPECT_EQ(px(c), cv::Vec3b(45, 45, 45));
  Sample d = one(100, 100, 100);
  hsv_shift(d, 0, 300, 200);  // S 0 -> 255, V 100 -> 255 (both clipped), H 0: red
  EXPECT_EQ(px(d), cv::Vec3b(255, 0, 0));
}

TEST(Transforms, YoloxHsvGainsAreSometimesOff) {
  // Each gain is kept with probability 1/2: all three off in ~1/8 of draws.
  YOLOXHSVRandomAugOptions o;
  o.hue_delta = 50;
  o.saturation_delta = 50;
  o.value_delta = 50;
  const Pipeline p({TransformSpec{o}});
  int unchanged = 0;
  for (uint64_t seed = 0; seed < 800; ++seed) {
    Sample s = make_sample(8, 8, {{1, 1, 3, 3}});
    // Zero gains still round-trip through uint8 HSV (as mmdet does).
    Sample zero = make_sample(8, 8, {});
    hsv_shift(zero, 0, 0, 0);
    const cv::Mat before = zero.image;
    Rng rng(seed);
    ASSERT_TRUE(p(s, rng));
    ASSERT_EQ(s.image.type(), CV_8UC3);
    EXPECT_EQ(s.masks[0].at<uint8_t>(1, 1), 1);  // geometry untouched
    unchanged += cv::norm(before, s.image, cv::NORM_INF) == 0;
  }
  EXPECT_GT(unchanged, 60);
  EXPECT_LT(unchanged, 150);
}

TEST(Transforms, CropClipsAndDropsOutsideBoxes) {
  Sample s = make_sample(10, 10, {{2, 2, 5, 5}, {8, 8, 10, 10}, {4, 4, 9, 9}});
  s.ignore[2] = 1;
  s.masks[2] = cv::Mat();  // crowd: no mask
  RandomCropOptions o;
  ASSERT_TRUE(crop(s, 1, 3, 6, 6, o));  // y0=1, x0=3, 6x6
  EXPECT_EQ(s.image.cols, 6);
  EXPECT_EQ(s.image.rows, 6);
  EXPECT_EQ(s.meta.img_w, 6);
  EXPECT_EQ(s.image.at<cv::Vec3b>(0, 0)[0], 3);
  EXPECT_EQ(s.image.at<cv::Vec3b>(0, 0)[1], 1);
  ASSERT_EQ(s.num_instances(), 2u);  // box 1 clips to [5,6,6,6]: not inside
  EXPECT_EQ(s.labels[0], 0);
  EXPECT_EQ(s.labels[1], 2);
  EXPECT_FLOAT_EQ(s.boxes[0][0], 0.0f);  // 2-3 clipped to 0
  EXPECT_FLOAT_EQ(s.boxes[0][1], 1.0f);
  EXPECT_FLOAT_EQ(s.boxes[0][2], 2.0f);
  EXPECT_FLOAT_EQ(s.boxes[0][3], 4.0f);
  EXPECT_FLOAT_EQ(s.boxes[1][2], 6.0f);
  EXPECT_EQ(s.ignore[1], 1);
  ASSERT_EQ(s.masks[0].cols, 6);
  EXPECT_EQ(cv::sum(s.masks[0])[0], 2 * 3);
  EXPECT_TRUE(s.masks[1].empty());

  // Nothing left: dropped unless allow_negative_crop.
  Sample t = make_sample(10, 10, {{8, 8, 10, 10}});
  EXPECT_FALSE(crop(t, 0, 0, 5, 5, o));
  o.allow_negative_crop = true;
  Sample u = make_sample(10, 10, {{8, 8, 10, 10}});
  EXPECT_TRUE(crop(u, 0, 0, 5, 5, o));
  EXPECT_EQ(u.num_instances(), 0u);
}

TEST(Transforms, RandomCropAbsoluteRangeSizes) {
  RandomCropOptions o;
  o.crop_type = RandomCropOptions::Type::absolute_range;
  o.crop_h = 384;
  o.crop_w = 600;
  o.allow_negative_crop = true;
  Pipeline p({TransformSpec{o}});
  int64_t min_w = 10000, max_w = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Sample s = make_sample(1000, 500, {{0, 0, 1000, 500}});
    Rng rng(seed);
    ASSERT_TRUE(p(s, rng));
    EXPECT_GE(s.image.rows, 384);
    EXPECT_LE(s.image.rows, 500);  // min(h, 600)
    min_w = std::min<int64_t>(min_w, s.image.cols);
    max_w = std::max<int64_t>(max_w, s.image.cols);
    ASSERT_EQ(s.num_instances(), 1u);
    EXPECT_FLOAT_EQ(s.boxes[0][2], static_cast<float>(s.image.cols));
  }
  EXPECT_GE(min_w, 384);
  EXPECT_LE(max_w, 600);
  EXPECT_LT(min_w, 420);  // the range is actually used
  EXPECT_GT(max_w, 560);
  // Smaller than the crop: kept whole.
  Sample small = make_sample(300, 200, {{0, 0, 10, 10}});
  Rng rng(1);
  ASSERT_TRUE(p(small, rng));
  EXPECT_EQ(small.image.cols, 300);
  EXPECT_EQ(small.image.rows, 200);
}

TEST(Transforms, RandomChoiceResizeAndFlipAreSeeded) {
  const Pipeline p(train_pipeline_multiscale({640, 672, 704, 736, 768, 800}));
  std::set<int64_t> shorts;
  int flips = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Sample a = make_sample(64, 48, {{1, 1, 5, 5}});
    Sample b = make_sample(64, 48, {{1, 1, 5, 5}});
    Rng ra(seed), rb(seed);
    ASSERT_TRUE(p(a, ra));
    ASSERT_TRUE(p(b, rb));
    EXPECT_EQ(a.image.rows, b.image.rows);
    EXPECT_EQ(a.meta.flip, b.meta.flip);
    shorts.insert(a.image.rows);
    flips += a.meta.flip;
  }
  EXPECT_EQ(shorts, (std::set<int64_t>{640, 672, 704, 736, 768, 800}));
  EXPECT_GT(flips, 30);
  EXPECT_LT(flips, 70);
}

TEST(Transforms, RandomResizeRange) {
  RandomResizeOptions o;
  o.scales = {{1333, 640}, {1333, 800}};
  const Pipeline p({TransformSpec{o}});
  std::set<int64_t> shorts;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Sample s = make_sample(40, 30, {});
    Rng rng(seed);
    ASSERT_TRUE(p(s, rng));
    EXPECT_GE(s.image.rows, 640);
    EXPECT_LE(s.image.rows, 800);
    shorts.insert(s.image.rows);
  }
  EXPECT_GT(shorts.size(), 100u);  // integer range, not a few values
}

TEST(Transforms, QueryInstCropPipelineRuns) {
  const Pipeline p(train_pipeline_queryinst_crop());
  int cropped = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sample s = make_sample(200, 150, {{10, 10, 190, 140}});
    Rng rng(seed);
    ASSERT_TRUE(p(s, rng));
    const int64_t shorter = std::min(s.image.rows, s.image.cols);
    EXPECT_GE(shorter, 480);
    EXPECT_LE(shorter, 800);
    // 4:3 unless the crop branch changed the aspect ratio.
    cropped += std::abs(s.image.cols * 3 - s.image.rows * 4) > 8;
    for (const auto& m : s.masks) EXPECT_EQ(m.cols, s.image.cols);
  }
  EXPECT_GT(cropped, 0);
}

TEST(Collate, NormalizeValues) {
  cv::Mat img(1, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 116, 255);
  img.at<cv::Vec3b>(0, 1) = cv::Vec3b(124, 255, 104);
  const at::Tensor t = normalize_image(img, CollateOptions{});
  ASSERT_EQ(t.sizes(), (at::IntArrayRef{3, 1, 2}));
  const auto a = t.accessor<float, 3>();
  // float32 (x - mean) / std, values from numpy.
  EXPECT_FLOAT_EQ(a[0][0][0], -2.117904f);
  EXPECT_FLOAT_EQ(a[2][0][0], 2.64f);
  EXPECT_FLOAT_EQ(a[1][0][0], (116.0f - 116.28f) / 57.12f);
  EXPECT_FLOAT_EQ(a[0][0][1], (124.0f - 123.675f) / 58.395f);
}

TEST(Collate, PadsToMultipleOf32) {
  std::vector<Sample> v;
  v.push_back(make_sample(50, 100, {{1, 2, 3, 4}}));
  v.push_back(make_sample(90, 70, {{0, 0, 90, 70}, {5, 5, 6, 6}}));
  v[1].ignore[1] = 1;
  const Batch b = collate(v, CollateOptions{});
  ASSERT_EQ(b.images.sizes(), (at::IntArrayRef{2, 3, 128, 96}));
  ASSERT_EQ(b.size(), 2);
  EXPECT_EQ(b.metas[0].pad_h, 128);
  EXPECT_EQ(b.metas[0].pad_w, 96);
  EXPECT_EQ(b.metas[0].img_h, 100);
  EXPECT_EQ(b.metas[1].img_w, 90);
  // Padding is 0 after normalisation; inside, the normalised pixel.
  EXPECT_EQ(b.images[0][0][100][10].item<float>(), 0.0f);
  EXPECT_EQ(b.images[0][0][10][50].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(b.images[0][0][10][49].item<float>(), (49.0f - 123.675f) / 58.395f);
  ASSERT_EQ(b.gts.size(), 2u);
  EXPECT_EQ(b.gts[0].masks.sizes(), (at::IntArrayRef{1, 128, 96}));
  EXPECT_EQ(b.gts[0].masks.scalar_type(), at::kByte);
  EXPECT_EQ(b.gts[0].masks.sum().item<int64_t>(), 2 * 2);
  EXPECT_EQ(b.gts[1].size(), 1);  // the crowd instance is dropped
  EXPECT_EQ(b.gts[1].masks.sum().item<int64_t>(), 90 * 70);
  EXPECT_EQ(b.gts[1].bboxes.scalar_type(), at::kFloat);
  EXPECT_EQ(b.gts[1].labels.scalar_type(), at::kLong);
  EXPECT_FLOAT_EQ(b.gts[0].bboxes[0][3].item<float>(), 4.0f);
}

// A 1 x 4000 image: mmcv's int(w * factor + 0.5) gives a 0-px width and the
// run used to abort ("resize: bad target size 1333x0" with a stack trace).
TEST(Transforms, RescaleSizeKeepsAtLeastOnePixel) {
  int64_t w = -1, h = -1;
  rescale_size(1, 4000, {1333, 800}, &w, &h);
  EXPECT_EQ(w, 1);
  EXPECT_EQ(h, 1333);
  rescale_size(4000, 1, {1333, 800}, &w, &h);
  EXPECT_EQ(w, 1333);
  EXPECT_EQ(h, 1);
  Sample s = make_sample(1, 4000, {{0, 10, 1, 20}});
  Pipeline p(test_pipeline({1333, 800}));
  Rng rng(0);
  ASSERT_TRUE(p(s, rng));
  EXPECT_EQ(s.image.cols, 1);
  EXPECT_EQ(s.image.rows, 1333);
}

// A transform that fails names the image it failed on.
TEST(Transforms, PipelineErrorsNameTheFile) {
  Sample s = make_sample(8, 8, {});
  s.meta.file = "imgs/odd.png";
  RandomChoiceResizeOptions none;  // no scales: an error inside the transform
  Pipeline p({TransformSpec{none}});
  Rng rng(0);
  std::string err;
  try {
    p(s, rng);
  } catch (const std::exception& e) {
    err = e.what();
  }
  EXPECT_EQ(err.rfind("imgs/odd.png (8x8): ", 0), 0u) << err;
  EXPECT_NE(err.find("RandomChoiceResize: no scales"), std::string::npos) << err;
}

}  // namespace
}  // namespace instseg
