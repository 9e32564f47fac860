#include "instseg/io/coco_dataset.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "instseg/core/check.h"
#include "io/toy_dataset.h"

namespace instseg {
namespace {

CocoDatasetOptions shared_opts(const std::string& ann, const std::string& img, bool test_mode) {
  CocoDatasetOptions o;
  o.ann_file = test::shared_path(ann);
  o.img_dir = test::shared_path(img);
  o.test_mode = test_mode;
  return o;
}

int64_t total_instances(const CocoDataset& d) {
  int64_t n = 0;
  for (int64_t i = 0; i < d.size(); ++i) n += d.num_instances(i);
  return n;
}

// Counts checked with python's json module on ../shared/data (2026 copies).
TEST(CocoDataset, NucleiCounts) {
  INSTSEG_REQUIRE_SHARED();
  const CocoDataset train(shared_opts("data/nuclei/annotations/train.json", "data/nuclei/images", false));
  EXPECT_EQ(train.size(), 50);
  EXPECT_EQ(total_instances(train), 3187);
  EXPECT_EQ(train.num_classes(), 1);
  EXPECT_EQ(train.class_names()[0], "nucleus");
  const CocoDataset val(shared_opts("data/nuclei/annotations/val.json", "data/nuclei/images", true));
  EXPECT_EQ(val.size(), 15);
  EXPECT_EQ(total_instances(val), 965);
}

TEST(CocoDataset, NucleiMasksMatchAreas) {
  INSTSEG_REQUIRE_SHARED();
  const CocoDataset val(shared_opts("data/nuclei/annotations/val.json", "data/nuclei/images", true));
  // Images 0 and 1: every decoded RLE has exactly the annotated area, and
  // the image is 3-channel RGB of the JSON size (some nuclei PNGs are RGBA).
  for (int64_t i = 0; i < 2; ++i) {
    const Sample s = val.load(i);
    const CocoImage& info = val.image_info(i);
    EXPECT_EQ(s.image.cols, info.width);
    EXPECT_EQ(s.image.rows, info.height);
    EXPECT_EQ(s.image.type(), CV_8UC3);
    ASSERT_EQ(s.masks.size(), static_cast<size_t>(val.num_instances(i)));
    const auto& idx = val.annotation_indices(i);
    for (size_t k = 0; k < idx.size(); ++k) {
      const CocoAnnotation& a = val.coco().annotations[idx[k]];
      ASSERT_EQ(cv::countNonZero(s.masks[k]), static_cast<int>(a.area)) << "ann " << a.id;
      EXPECT_EQ(s.boxes[k][0], static_cast<float>(a.bbox[0]));
      EXPECT_EQ(s.boxes[k][2], static_cast<float>(a.bbox[0] + a.bbox[2]));
      EXPECT_EQ(s.labels[k], 0);
    }
  }
}

TEST(CocoDataset, Coco128CountsAndLabels) {
  INSTSEG_REQUIRE_SHARED();
  const CocoDataset all(shared_opts("data/coco128/instances.json", "data/coco128/images", true));
  EXPECT_EQ(all.size(), 128);
  EXPECT_EQ(total_instances(all), 939);
  int64_t crowd = 0;
  for (int64_t i = 0; i < all.size(); ++i)
    for (size_t a : all.annotation_indices(i)) crowd += all.coco().annotations[a].iscrowd;
  EXPECT_EQ(crowd, 10);
  EXPECT_EQ(all.num_classes(), 80);
  EXPECT_EQ(all.label_of_category(1), 0);
  EXPECT_EQ(all.label_of_category(90), 79);
  EXPECT_EQ(all.label_of_category(12), -1);  // not a COCO category id
  EXPECT_EQ(all.label_of_category(13), 11);
  EXPECT_EQ(all.category_of_label(79), 90);
  EXPECT_EQ(all.category_of_label(11), 13);
  for (int64_t l = 0; l < 80; ++l) EXPECT_EQ(all.label_of_category(all.category_of_label(l)), l);
  EXPECT_THROW(all.category_of_label(80), std::exception);

  // Training: images 250 and 508 have no annotation (filter_empty_gt).
  const CocoDataset train(shared_opts("data/coco128/instances.json", "data/coco128/images", false));
  EXPECT_EQ(train.size(), 126);
  EXPECT_EQ(total_instances(train), 939);
  // The first image loads with polygon masks; crowd instances carry no mask.
  const Sample s = all.load(0);
  EXPECT_EQ(s.meta.image_id, 9);
  EXPECT_EQ(s.image.cols, 640);
  EXPECT_EQ(s.image.rows, 480);
  ASSERT_EQ(s.masks.size(), s.num_instances());
  for (size_t k = 0; k < s.num_instances(); ++k) {
    if (s.ignore[k]) continue;
    const int px = cv::countNonZero(s.masks[k]);
    EXPECT_GT(px, 0);
  }
}

TEST(CocoDataset, Labelme3CountsAndPathFallback) {
  INSTSEG_REQUIRE_SHARED();
  // file_name is "JPEGImages/2011_000003.jpg"; the image is images/2011_000003.jpg.
  const CocoDataset d(shared_opts("data/labelme3/instances.json", "data/labelme3/images", true));
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(total_instances(d), 12);
  EXPECT_EQ(d.num_classes(), 21);  // every category, _background_ (id 0) included
  EXPECT_EQ(d.label_of_category(15), 15);
  const Sample s = d.load(0);
  EXPECT_EQ(s.image.cols, 500);
  EXPECT_EQ(s.image.rows, 338);
  ASSERT_EQ(s.num_instances(), 3u);
  EXPECT_EQ(s.labels[0], 15);

  CocoDatasetOptions o = shared_opts("data/labelme3/instances.json", "data/labelme3/images", true);
  o.classes = {"person", "bus"};
  const CocoDataset sel(o);
  EXPECT_EQ(sel.num_classes(), 2);
  EXPECT_EQ(sel.category_of_label(0), 6);   // file order: bus (6) before person (15)
  EXPECT_EQ(sel.category_of_label(1), 15);
  EXPECT_EQ(total_instances(sel), 8);
}

TEST(CocoDataset, InvalidAnnotationsSkippedAndFiltering) {
  const std::string dir = test::make_toy_dataset(4, /*empty_id=*/2);
  // Append invalid annotations to image 1000: w < 1, area 0, box outside, no segmentation.
  std::ifstream in(dir + "/ann.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string extra =
      R"({"id": 1, "image_id": 1000, "category_id": 10, "bbox": [1, 1, 0.5, 5], "area": 2, "segmentation": [[1,1,2,1,2,2]]},)"
      R"({"id": 2, "image_id": 1000, "category_id": 10, "bbox": [1, 1, 5, 5], "area": 0, "segmentation": [[1,1,2,1,2,2]]},)"
      R"({"id": 3, "image_id": 1000, "category_id": 10, "bbox": [100, 1, 5, 5], "area": 9, "segmentation": [[1,1,2,1,2,2]]},)"
      R"({"id": 4, "image_id": 1000, "category_id": 10, "bbox": [1, 1, 5, 5], "area": 9, "segmentation": []},)";
  text.replace(text.find("\"annotations\": [") + 16, 0, extra);
  std::ofstream(dir + "/ann2.json") << text;
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann2.json";
  o.img_dir = dir + "/img";
  const CocoDataset train(o);
  EXPECT_EQ(train.size(), 3);  // image 1002 has no annotation
  EXPECT_EQ(train.num_instances(0), 1);
  o.test_mode = true;
  const CocoDataset test(o);
  EXPECT_EQ(test.size(), 4);
  EXPECT_EQ(test.num_instances(2), 0);
  o.test_mode = false;
  o.min_size = 40;  // images with h = 32 (i % 3 == 0) are dropped
  const CocoDataset big(o);
  EXPECT_EQ(big.size(), 1);
  EXPECT_EQ(big.image_info(0).id, 1001);
  // Toy polygon [2,3]-[12,11] rasterises to a 10x8 block (pycocotools rounding).
  const Sample s = test.load(1);
  EXPECT_EQ(cv::countNonZero(s.masks[0]), 80);
  EXPECT_EQ(s.labels[0], 1);
}

TEST(CocoDataset, UnreadableImageNamesFile) {
  const std::string dir = test::make_toy_dataset(2);
  std::ofstream(dir + "/img/im1.png") << "garbage";
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  const CocoDataset d(o);
  EXPECT_NO_THROW(d.load(0));
  try {
    d.load(1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/img/im1.png: cannot decode image"), std::string::npos)
        << e.what();
  }
}

TEST(CocoDataset, UnknownClassNameFails) {
  const std::string dir = test::make_toy_dataset(1);
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  o.classes = {"a", "zebra"};
  try {
    CocoDataset d(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no category named 'zebra'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace instseg

namespace instseg {
namespace {

TEST(CocoDataset, DroppedSamplesAreRefetched) {
  const std::string dir = test::make_toy_dataset(6);
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  RandomCropOptions c;  // 3x3 crops: most miss the box [2,3]-[12,11]
  c.crop_h = 3;
  c.crop_w = 3;
  o.pipeline = {TransformSpec{c}};
  const CocoDataset d(o);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Sample s = d.get(seed % 6, seed);
    EXPECT_EQ(s.image.cols, 3);
    EXPECT_GE(s.num_instances(), 1u);
    const Sample again = d.get(seed % 6, seed);  // reproducible
    EXPECT_EQ(again.meta.image_id, s.meta.image_id);
    EXPECT_EQ(again.boxes, s.boxes);
  }
}

}  // namespace
}  // namespace instseg
