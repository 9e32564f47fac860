// RLE against pycocotools' maskApi.c outputs (tests/data/eval/rle, a copy of
// ../shared/fixtures/rle) plus hand-computed cases.
#include "instseg/core/check.h"
#include "instseg/eval/rle.h"
#include "common/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

namespace instseg {
namespace {

using nlohmann::json;

const json& fixtures() {
  static const json j = [] {
    std::ifstream f(test::data_path("eval/rle/rle_fixtures.json"));
    EXPECT_TRUE(f.good());
    return json::parse(f);
  }();
  return j;
}

std::vector<uint32_t> ucounts(const json& j) {
  std::vector<uint32_t> out;
  for (const auto& v : j) out.push_back(v.get<uint32_t>());
  return out;
}

TEST(Rle, HandComputed) {
  // 2x3 row-major mask; column-major order is 1,0 | 1,1 | 0,0.
  const uint8_t m[6] = {1, 1, 0, 0, 1, 0};
  rle::Rle r = rle::encode(m, 2, 3);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{0, 1, 1, 2, 2}));
  EXPECT_EQ(rle::area(r), 3u);
  double bb[4];
  rle::to_bbox(r, bb);
  EXPECT_EQ(bb[0], 0);
  EXPECT_EQ(bb[1], 0);
  EXPECT_EQ(bb[2], 2);
  EXPECT_EQ(bb[3], 2);
  uint8_t back[6];
  rle::decode(r, back);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back[i], m[i]) << i;
  // The same mask given column-major.
  const uint8_t cm[6] = {1, 0, 1, 1, 0, 0};
  EXPECT_EQ(rle::encode_colmajor(cm, 2, 3).counts, r.counts);
  // String round trip (counts 0,1,1,2,2 -> deltas from index 3: 2-1=1, 2-1=1).
  const std::string s = rle::to_string(r);
  EXPECT_EQ(s, "01111");
  EXPECT_EQ(rle::from_string(s, 2, 3).counts, r.counts);
}

TEST(Rle, MasksMatchPycocotools) {
  for (const auto& c : fixtures()["masks"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const int64_t h = c["height"], w = c["width"];
    cv::Mat img = cv::imread(test::data_path("eval/rle/" + c["png"].get<std::string>()),
                             cv::IMREAD_GRAYSCALE);
    ASSERT_FALSE(img.empty());
    ASSERT_EQ(img.rows, h);
    ASSERT_EQ(img.cols, w);
    std::vector<uint8_t> m(h * w);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) m[y * w + x] = img.at<uint8_t>(y, x) > 127;
    const rle::Rle r = rle::encode(m.data(), h, w);
    EXPECT_EQ(r.counts, ucounts(c["uncompressed_counts"]));
    EXPECT_EQ(rle::to_string(r), c["counts"].get<std::string>());
    EXPECT_EQ(rle::area(r), c["area"].get<uint64_t>());
    double bb[4];
    rle::to_bbox(r, bb);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(bb[i], c["bbox"][i].get<double>()) << i;
    // String -> runs, uncompressed -> runs, decode back to the pixels.
    const rle::Rle fs = rle::from_string(c["counts"], h, w);
    EXPECT_EQ(fs.counts, r.counts);
    EXPECT_EQ(rle::from_counts(ucounts(c["uncompressed_counts"]), h, w).counts, r.counts);
    std::vector<uint8_t> back(h * w, 7);
    rle::decode(fs, back.data());
    EXPECT_EQ(back, m);
  }
}

TEST(Rle, PolygonsMatchPycocotools) {
  for (const auto& c : fixtures()["polygons"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const int64_t h = c["height"], w = c["width"];
    std::vector<std::vector<double>> polys = c["polygons"];
    for (size_t i = 0; i < polys.size(); ++i) {
      const rle::Rle r = rle::from_polygon(polys[i], h, w);
      EXPECT_EQ(rle::to_string(r), c["counts_each"][i].get<std::string>()) << "part " << i;
      EXPECT_EQ(rle::area(r), c["area_each"][i].get<uint64_t>());
    }
    const rle::Rle mr = rle::from_polygons(polys, h, w);
    EXPECT_EQ(rle::to_string(mr), c["counts_merged"].get<std::string>());
    EXPECT_EQ(rle::area(mr), c["area_merged"].get<uint64_t>());
    double bb[4];
    rle::to_bbox(mr, bb);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(bb[i], c["bbox_merged"][i].get<double>());
  }
}

TEST(Rle, BboxesMatchPycocotools) {
  for (const auto& c : fixtures()["bboxes"]) {
    const std::vector<double> box = c["bbox_xywh"];
    SCOPED_TRACE(c.dump().substr(0, 80));
    const rle::Rle r = rle::from_bbox(box.data(), c["height"], c["width"]);
    EXPECT_EQ(rle::to_string(r), c["counts"].get<std::string>());
    EXPECT_EQ(rle::area(r), c["area"].get<uint64_t>());
    double bb[4];
    rle::to_bbox(r, bb);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(bb[i], c["bbox_back"][i].get<double>());
  }
}

TEST(Rle, MergeMatchesPycocotools) {
  for (const auto& c : fixtures()["merge"]) {
    const int64_t h = c["height"], w = c["width"];
    std::vector<rle::Rle> in;
    for (const auto& s : c["inputs"]) in.push_back(rle::from_string(s, h, w));
    const rle::Rle u = rle::merge(in, false), i = rle::merge(in, true);
    EXPECT_EQ(rle::to_string(u), c["union_counts"].get<std::string>());
    EXPECT_EQ(rle::to_string(i), c["intersect_counts"].get<std::string>());
    EXPECT_EQ(rle::area(u), c["union_area"].get<uint64_t>());
    EXPECT_EQ(rle::area(i), c["intersect_area"].get<uint64_t>());
  }
}

TEST(Rle, IouMatchesPycocotools) {
  const json& c = fixtures()["iou"];
  const int64_t h = c["height"], w = c["width"];
  std::vector<rle::Rle> dt, gt;
  for (const auto& s : c["dt_counts"]) dt.push_back(rle::from_string(s, h, w));
  for (const auto& s : c["gt_counts"]) gt.push_back(rle::from_string(s, h, w));
  const std::vector<uint8_t> crowd = c["iscrowd"];
  const std::vector<double> o = rle::iou(dt, gt, crowd);
  ASSERT_EQ(o.size(), dt.size() * gt.size());
  for (size_t d = 0; d < dt.size(); ++d)
    for (size_t g = 0; g < gt.size(); ++g)
      EXPECT_EQ(o[d * gt.size() + g], c["iou_segm"][d][g].get<double>()) << d << "," << g;
  std::vector<std::array<double, 4>> db = c["dt_bboxes_xywh"], gb = c["gt_bboxes_xywh"];
  const std::vector<double> ob = rle::bbox_iou(db, gb, crowd);
  for (size_t d = 0; d < db.size(); ++d)
    for (size_t g = 0; g < gb.size(); ++g)
      EXPECT_EQ(ob[d * gb.size() + g], c["iou_bbox"][d][g].get<double>()) << d << "," << g;
  // Different sizes: -1 where the boxes overlap, as rleIou.
  rle::Rle other = gt[4];
  other.h = h + 1;
  EXPECT_EQ(rle::iou({dt[0]}, {other}, {0})[0], -1.0);
}

// Random masks: bbox, area and IoU from runs equal the pixel-wise values.
TEST(Rle, RandomMasksAgreeWithPixels) {
  std::mt19937 rng(7);
  for (int it = 0; it < 200; ++it) {
    const int64_t h = 1 + rng() % 17, w = 1 + rng() % 13;
    const int density = rng() % 4;  // 0: sparse ... 3: dense
    std::vector<uint8_t> a(h * w), b(h * w);
    for (auto& v : a) v = static_cast<int>(rng() % 4) < density;
    for (auto& v : b) v = static_cast<int>(rng() % 4) < density;
    const rle::Rle ra = rle::encode(a.data(), h, w), rb = rle::encode(b.data(), h, w);
    int64_t xs = w, ys = h, xe = -1, ye = -1, inter = 0, uni = 0, area_a = 0;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        if (a[y * w + x]) {
          xs = std::min(xs, x), xe = std::max(xe, x), ys = std::min(ys, y), ye = std::max(ye, y);
          ++area_a;
        }
        inter += a[y * w + x] && b[y * w + x];
        uni += a[y * w + x] || b[y * w + x];
      }
    EXPECT_EQ(rle::area(ra), static_cast<uint64_t>(area_a));
    double bb[4];
    rle::to_bbox(ra, bb);
    if (area_a == 0) {
      EXPECT_EQ(bb[2], 0);
    } else {
      EXPECT_EQ(bb[0], xs);
      EXPECT_EQ(bb[1], ys);
      EXPECT_EQ(bb[2], xe - xs + 1);
      EXPECT_EQ(bb[3], ye - ys + 1);
    }
    const double o = rle::iou({ra}, {rb}, {0})[0];
    EXPECT_DOUBLE_EQ(o, inter ? static_cast<double>(inter) / static_cast<double>(uni) : 0.0);
    const rle::Rle u = rle::merge({ra, rb}, false), n = rle::merge({ra, rb}, true);
    EXPECT_EQ(rle::area(u), static_cast<uint64_t>(uni));
    EXPECT_EQ(rle::area(n), static_cast<uint64_t>(inter));
    EXPECT_EQ(rle::from_string(rle::to_string(ra), h, w).counts, ra.counts);
  }
}

TEST(Rle, MalformedStringsNamePosition) {
  try {
    rle::from_string("01 1", 2, 3);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("character 2"), std::string::npos) << e.what();
  }
  // Continuation bit on the last character ('P' = 48+32).
  EXPECT_THROW(rle::from_string("01P", 2, 3), Error);
  // Runs not summing to h*w.
  try {
    rle::from_string("011", 2, 3);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sum to 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rle::from_counts({1, 2}, 2, 3), Error);
}

// Hostile inputs are refused before allocating (the fuzz targets' findings
// and the cases): a vertex at 1e9 overflowed maskApi.c's int cast
// (std::bad_alloc here), one at 1e7 walked 2.5e8 outline points.
TEST(Rle, PolygonsBeyondTheLimitsAreErrors) {
  auto err = [](const std::vector<double>& xy, int64_t h, int64_t w) -> std::string {
    try {
      rle::from_polygon(xy, h, w);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(err({0, 0, 1e9, 0, 1e9, 1e9}, 10, 10).find("polygon vertex 1 has x = 1e+09"), std::string::npos);
  EXPECT_NE(err({0, 0, 5, 0, 5, std::nan("")}, 10, 10).find("vertex 2 has y = nan"), std::string::npos);
  EXPECT_NE(err({0, 0, 1e7, 0, 1e7, 1e7}, 10, 10).find("polygon outline is "), std::string::npos);
  EXPECT_NE(err({0, 0, 5, 0, 5, 5}, 100000, 100000).find("more than 2^32-1 pixels"), std::string::npos);
  EXPECT_NE(err({0, 0, 5, 0, 5, 5}, -1, 3).find("negative mask size"), std::string::npos);
  EXPECT_EQ(err({-40, -40, 50, -40, 50, 50}, 10, 10), "");  // outside but small: as pycocotools
}

TEST(Rle, SizesBeyondTheLimitsAreErrors) {
  EXPECT_THROW(rle::from_string("0", 1000000, 1000000), Error);       // 1e12 pixels
  EXPECT_THROW(rle::from_string("0", int64_t{1} << 40, int64_t{1} << 40), Error);  // h * w overflows
  EXPECT_THROW(rle::from_counts({0}, -2, -3), Error);
  EXPECT_THROW(rle::from_polygons({}, 70000, 70000), Error);
}

// maskApi.c divides by h in rleToBbox; an empty-size mask has an empty box.
TEST(Rle, BoxOfAZeroHeightMask) {
  const rle::Rle r = rle::from_string("000", 0, 5);
  double bb[4] = {1, 1, 1, 1};
  rle::to_bbox(r, bb);
  EXPECT_EQ(bb[0], 0);
  EXPECT_EQ(bb[2], 0);
}

// Found by fuzz_rle: encoding a 0 x 1.35e9 mask walked 1.35e9 empty columns
// from a null pointer (UBSan: offset applied to a null pointer; and a hang).
TEST(Rle, EncodeOfAnEmptySizeMaskIsOneZeroRun) {
  const rle::Rle r = rle::encode(nullptr, 0, 1350107048);
  EXPECT_EQ(r.counts, std::vector<uint32_t>{0});
  EXPECT_EQ(r.w, 1350107048);
  EXPECT_EQ(rle::encode(nullptr, 7, 0).counts, std::vector<uint32_t>{0});
}

}  // namespace
}  // namespace instseg
