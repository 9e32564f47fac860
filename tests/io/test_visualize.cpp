#include "instseg/io/visualize.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <set>

#include "common/test_util.h"
#include "instseg/core/check.h"
#include "instseg/io/image.h"

namespace instseg {
namespace {

// A 40x60 grey image with two square instances.
struct Scene {
  cv::Mat rgb{40, 60, CV_8UC3, cv::Scalar(100, 100, 100)};
  Instances inst;
  Scene() {
    inst.labels = at::tensor({0, 1}, at::kLong);
    inst.scores = at::tensor({0.9f, 0.6f});
    inst.masks = at::zeros({2, 40, 60}, at::kByte);
    inst.masks[0].slice(0, 20, 35).slice(1, 5, 25).fill_(1);   // y 20..34, x 5..24
    inst.masks[1].slice(0, 22, 36).slice(1, 35, 55).fill_(1);  // y 22..35, x 35..54
    inst.bboxes = at::tensor({5.f, 20.f, 25.f, 35.f, 35.f, 22.f, 55.f, 36.f}).view({2, 4});
  }
};

TEST(Visualize, BlendsMasksAndKeepsSize) {
  Scene s;
  VisualizeOptions o;
  o.draw_labels = false;
  o.draw_contours = false;
  cv::Mat out = draw_instances(s.rgb, s.inst, o);
  ASSERT_EQ(out.rows, 40);
  ASSERT_EQ(out.cols, 60);
  ASSERT_EQ(out.type(), CV_8UC3);
  // The input is untouched.
  EXPECT_EQ(s.rgb.at<cv::Vec3b>(25, 10), cv::Vec3b(100, 100, 100));
  // Outside every mask: unchanged. Inside: 0.5 * grey + 0.5 * colour (rank 0 = best score).
  EXPECT_EQ(out.at<cv::Vec3b>(5, 5), cv::Vec3b(100, 100, 100));
  const Rgb c0 = instance_color(0), c1 = instance_color(1);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(out.at<cv::Vec3b>(25, 10)[k], 0.5 * 100 + 0.5 * c0[k], 1.0) << k;
    EXPECT_NEAR(out.at<cv::Vec3b>(30, 40)[k], 0.5 * 100 + 0.5 * c1[k], 1.0) << k;
  }
  // Every pixel inside a mask differs from the input, every pixel outside is equal.
  cv::Mat diff;
  cv::absdiff(out, s.rgb, diff);
  cv::Mat changed;
  cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
  const int masked = 15 * 20 + 14 * 20;
  EXPECT_EQ(cv::countNonZero(changed), masked);
}

TEST(Visualize, ContoursLabelsAndThreshold) {
  Scene s;
  VisualizeOptions o;
  o.class_names = {"cell", "nucleus"};
  cv::Mat full = draw_instances(s.rgb, s.inst, o);
  VisualizeOptions plain = o;
  plain.draw_labels = false;
  cv::Mat no_tags = draw_instances(s.rgb, s.inst, plain);
  // The contour has the full colour at the mask's border.
  const Rgb c0 = instance_color(0);
  EXPECT_EQ(no_tags.at<cv::Vec3b>(34, 15), cv::Vec3b(c0[0], c0[1], c0[2]));
  // Tags add pixels outside the masks (above them).
  cv::Mat diff;
  cv::absdiff(full, no_tags, diff);
  cv::cvtColor(diff, diff, cv::COLOR_RGB2GRAY);
  EXPECT_GT(cv::countNonZero(diff(cv::Rect(0, 0, 60, 20))), 20);

  EXPECT_EQ(instance_tag(o, 1, 0.6), "nucleus 0.60");
  EXPECT_EQ(instance_tag(o, 5, 0.123), "class 5 0.12");

  // score_thr drops the second instance: its area stays grey.
  o.score_thr = 0.7;
  cv::Mat thr = draw_instances(s.rgb, s.inst, o);
  EXPECT_EQ(thr.at<cv::Vec3b>(30, 45), cv::Vec3b(100, 100, 100));
  EXPECT_NE(thr.at<cv::Vec3b>(25, 10), cv::Vec3b(100, 100, 100));
}

TEST(Visualize, PaletteBoxesEmptyAndErrors) {
  // Distinct colours for the first instances of the built-in palette.
  std::set<Rgb> colours;
  for (size_t i = 0; i < instance_palette_size(); ++i) colours.insert(instance_color(i));
  EXPECT_EQ(colours.size(), instance_palette_size());
  EXPECT_EQ(instance_color(instance_palette_size()), instance_color(0));

  VisualizeOptions o;
  o.palette = {{255, 0, 0}, {0, 0, 255}};
  EXPECT_EQ(color_for(o, 1, 0), (Rgb{0, 0, 255}));  // class colour for the first instance
  EXPECT_NE(color_for(o, 1, 1), color_for(o, 1, 0));  // varied for the next

  // Box-only instances get rectangles.
  Scene s;
  Instances boxes = s.inst;
  boxes.masks = at::Tensor();
  o.draw_labels = false;
  cv::Mat out = draw_instances(s.rgb, boxes, o);
  EXPECT_EQ(out.at<cv::Vec3b>(20, 15), cv::Vec3b(255, 0, 0));  // top edge of box 0
  EXPECT_EQ(out.at<cv::Vec3b>(27, 15), cv::Vec3b(100, 100, 100));  // inside, not filled

  Instances none;
  cv::Mat same = draw_instances(s.rgb, none, o);
  EXPECT_EQ(cv::norm(same, s.rgb, cv::NORM_INF), 0.0);

  Instances bad = s.inst;
  bad.masks = at::zeros({2, 10, 10}, at::kByte);
  EXPECT_THROW(draw_instances(s.rgb, bad, o), Error);
}

TEST(Visualize, CrowdedImagesLabelOnlyLargeInstances) {
  // 40 small squares and one large one on a 200 x 200 image: above
  // crowded_count instances only the large one (>= 1 % of the image) gets a tag.
  const int n = 41;
  cv::Mat rgb(200, 200, CV_8UC3, cv::Scalar(100, 100, 100));
  Instances inst;
  inst.labels = at::zeros({n}, at::kLong);
  inst.scores = at::full({n}, 0.9f);
  inst.masks = at::zeros({n, 200, 200}, at::kByte);
  for (int i = 0; i < n - 1; ++i) {
    const int y = 110 + (i / 10) * 20, x = 5 + (i % 10) * 19;
    inst.masks[i].slice(0, y, y + 5).slice(1, x, x + 5).fill_(1);  // 25 px
  }
  inst.masks[n - 1].slice(0, 10, 60).slice(1, 100, 150).fill_(1);  // 2500 px = 6 % of the image
  VisualizeOptions o;
  o.draw_contours = false;
  o.class_names = {"nucleus"};
  auto tagged = [&](const VisualizeOptions& vo) {
    // A tag is a filled rectangle: count pixels that are neither grey nor a blended mask pixel.
    cv::Mat plain = draw_instances(rgb, inst, [&] {
      VisualizeOptions q = vo;
      q.draw_labels = false;
      return q;
    }());
    cv::Mat out = draw_instances(rgb, inst, vo), diff, grey;
    cv::absdiff(out, plain, diff);
    cv::cvtColor(diff, grey, cv::COLOR_RGB2GRAY);
    return grey;
  };
  cv::Mat crowded = tagged(o);
  // Tags near the large instance only (above its top-left corner, y < 60, x >= 100).
  EXPECT_GT(cv::countNonZero(crowded(cv::Rect(100, 0, 100, 60))), 0);
  EXPECT_EQ(cv::countNonZero(crowded(cv::Rect(0, 90, 200, 110))), 0);
  o.crowded_count = -1;  // mmdet's behaviour: every instance tagged
  cv::Mat all = tagged(o);
  EXPECT_GT(cv::countNonZero(all(cv::Rect(0, 90, 200, 110))), 0);
}

TEST(Visualize, PlaceTagsNeverOverlapAndStayNearTheirObjects) {
  // 14 touching 20 x 20 objects in a 7 x 2 block (a crowded nuclei crop) with
  // 60 x 14 tags: mmdet's spot (above each top-left corner) would stack the
  // tags of a row into one unreadable strip.
  std::vector<cv::Rect> anchors;
  std::vector<cv::Size> sizes;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 7; ++c) {
      anchors.emplace_back(100 + c * 20, 120 + r * 20, 20, 20);
      sizes.emplace_back(60, 14);
    }
  const cv::Size image(400, 300);
  const std::vector<cv::Rect> spots = place_tags(anchors, sizes, image);
  ASSERT_EQ(spots.size(), anchors.size());
  // The first (best-scored) tag gets mmdet's spot.
  EXPECT_EQ(spots[0], cv::Rect(100, 106, 60, 14));
  int placed = 0;
  for (size_t i = 0; i < spots.size(); ++i) {
    if (spots[i].empty()) continue;
    ++placed;
    EXPECT_EQ(spots[i] & cv::Rect(0, 0, 400, 300), spots[i]) << i;
    EXPECT_EQ(spots[i].size(), sizes[i]) << i;
    // Near its object: within 5 tag heights (or one tag width) of it.
    const cv::Rect near(anchors[i].x - 60, anchors[i].y - 5 * 14, anchors[i].width + 120, anchors[i].height + 10 * 14);
    EXPECT_EQ(spots[i] & near, spots[i]) << i;
    for (size_t j = 0; j < i; ++j) EXPECT_EQ((spots[i] & spots[j]).area(), 0) << i << " overlaps " << j;
  }
  EXPECT_EQ(placed, 14);
  // With room around, a tag does not cover another object: the second object's
  // tag leaves mmdet's spot (it would cover the first object) for a free one.
  const std::vector<cv::Rect> apart =
      place_tags({cv::Rect(50, 50, 30, 30), cv::Rect(60, 90, 30, 30)}, {cv::Size(40, 12), cv::Size(40, 12)}, image);
  EXPECT_EQ(apart[0], cv::Rect(50, 38, 40, 12));
  EXPECT_EQ((apart[1] & cv::Rect(50, 50, 30, 30)).area(), 0);
  EXPECT_FALSE(apart[1].empty());

  // No room at all: later tags are left out rather than drawn on top.
  const std::vector<cv::Rect> tight =
      place_tags({cv::Rect(0, 0, 10, 10), cv::Rect(0, 0, 10, 10)}, {cv::Size(40, 20), cv::Size(40, 20)}, cv::Size(40, 20));
  EXPECT_EQ(tight[0], cv::Rect(0, 0, 40, 20));
  EXPECT_TRUE(tight[1].empty());
  // A tag wider than the image is clipped to it.
  EXPECT_EQ(place_tags({cv::Rect(5, 5, 4, 4)}, {cv::Size(90, 8)}, cv::Size(50, 30))[0].width, 50);
  EXPECT_THROW(place_tags({cv::Rect(0, 0, 1, 1)}, {}, cv::Size(5, 5)), Error);
}

TEST(Visualize, SavePngRoundTrip) {
  Scene s;
  cv::Mat out = draw_instances(s.rgb, s.inst, VisualizeOptions{});
  const std::string path = test::temp_dir("visualize") + "/sub/overlay.png";
  save_png_rgb(path, out);
  cv::Mat back = read_image_rgb(path);
  ASSERT_EQ(back.size(), out.size());
  EXPECT_EQ(cv::norm(back, out, cv::NORM_INF), 0.0);  // RGB order kept, lossless
  EXPECT_THROW(save_png_rgb("/proc/definitely/not/here.png", out), Error);
}

}  // namespace
}  // namespace instseg
