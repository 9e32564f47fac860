#include "instseg/io/coco_json.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "instseg/core/check.h"

namespace instseg {
namespace {

std::string write_coco_temp(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir("coco_json") + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The error message of load_coco_json(path), or "" when it succeeds.
std::string load_error(const std::string& path) {
  try {
    load_coco_json(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kSmall = R"({
  "info": {"year": 2017, "nested": [1, [2, {"a": null}]]},
  "licenses": [],
  "images": [
    {"id": 7, "file_name": "a.jpg", "height": 4, "width": 5, "coco_url": "x"},
    {"id": 9, "file_name": "b.png", "height": 2.0, "width": 3, "extra": {"k": [1]}}
  ],
  "annotations": [
    {"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 1.5, 2, 2], "area": 3.5, "iscrowd": 0,
     "segmentation": [[1, 1, 3, 1, 3, 3], [0, 0, 1, 0, 1, 1, 0, 1]]},
    {"id": 2, "image_id": 7, "category_id": 5, "bbox": [0, 0, 5, 4], "area": 20, "iscrowd": 1,
     "segmentation": {"size": [4, 5], "counts": [0, 20]}},
    {"id": 3, "image_id": 9, "category_id": 3, "iscrowd": 0,
     "segmentation": {"size": [2, 3], "counts": "06"}}
  ],
  "categories": [{"id": 5, "name": "dog", "supercategory": "animal"},
                 {"id": 3, "name": "cat", "supercategory": "animal"}]
})";

TEST(CocoJson, ParsesAllSegmentationKinds) {
  const CocoFile f = load_coco_json(write_coco_temp("small.json", kSmall));
  ASSERT_EQ(f.images.size(), 2u);
  EXPECT_EQ(f.images[0].id, 7);
  EXPECT_EQ(f.images[0].file_name, "a.jpg");
  EXPECT_EQ(f.images[0].height, 4);
  EXPECT_EQ(f.images[0].width, 5);
  EXPECT_EQ(f.images[1].height, 2);  // integral float accepted
  ASSERT_EQ(f.annotations.size(), 3u);

  const CocoAnnotation& a = f.annotations[0];
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(a.image_id, 7);
  EXPECT_EQ(a.category_id, 3);
  EXPECT_TRUE(a.has_bbox);
  EXPECT_DOUBLE_EQ(a.bbox[1], 1.5);
  EXPECT_DOUBLE_EQ(a.area, 3.5);
  EXPECT_FALSE(a.iscrowd);
  ASSERT_EQ(a.segmentation.kind, CocoSegmentation::Kind::polygons);
  ASSERT_EQ(a.segmentation.polygons.size(), 2u);
  EXPECT_EQ(a.segmentation.polygons[1].size(), 8u);
  EXPECT_DOUBLE_EQ(a.segmentation.polygons[0][2], 3.0);

  const CocoAnnotation& b = f.annotations[1];
  EXPECT_TRUE(b.iscrowd);
  ASSERT_EQ(b.segmentation.kind, CocoSegmentation::Kind::rle_uncompressed);
  EXPECT_EQ(b.segmentation.h, 4);
  EXPECT_EQ(b.segmentation.w, 5);
  EXPECT_EQ(b.segmentation.ucounts, (std::vector<uint32_t>{0, 20}));

  const CocoAnnotation& c = f.annotations[2];
  EXPECT_FALSE(c.has_bbox);
  EXPECT_FALSE(c.has_area);
  ASSERT_EQ(c.segmentation.kind, CocoSegmentation::Kind::rle_compressed);
  EXPECT_EQ(c.segmentation.counts, "06");

  ASSERT_EQ(f.categories.size(), 2u);
  EXPECT_EQ(f.categories[0].id, 5);
  EXPECT_EQ(f.categories[0].name, "dog");
  EXPECT_EQ(f.categories[1].supercategory, "animal");
  EXPECT_EQ(f.image_index.at(9), 1u);
  EXPECT_EQ(f.category_index.at(3), 1u);
}

// A small valid file with one annotation whose fields can be replaced.
std::string one_ann(const std::string& ann_fields) {
  return std::string(R"({"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 5}],
 "categories": [{"id": 1, "name": "x"}],
 "annotations": [{"id": 11, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4, )") +
         ann_fields + "}]}";
}

TEST(CocoJson, TruncatedJsonNamesFileAndByte) {
  const std::string text = kSmall;
  const std::string path = write_coco_temp("trunc.json", text.substr(0, 300));
  const std::string err = load_error(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("byte 300"), std::string::npos) << err;
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
  EXPECT_NE(err.find("annotations[0]"), std::string::npos) << err;
}

TEST(CocoJson, SyntaxErrorNamesByte) {
  const std::string path = write_coco_temp("syntax.json", R"({"images": [}, ])");
  const std::string err = load_error(path);
  EXPECT_NE(err.find("byte 12"), std::string::npos) << err;
}

TEST(CocoJson, BadRleStringNamesField) {
  const std::string path = write_coco_temp(
      "badrle.json", one_ann(R"("segmentation": {"size": [4, 5], "counts": "0 00"})"));
  const std::string err = load_error(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("annotations[0] (id 11).segmentation.counts"), std::string::npos) << err;
  EXPECT_NE(err.find("invalid character ' ' at position 1"), std::string::npos) << err;
}

TEST(CocoJson, RleStringWithWrongTotalFails) {
  // "06" = runs [0, 6]: 6 pixels, the image has 20.
  const std::string err = load_error(
      write_coco_temp("rlesum.json", one_ann(R"("segmentation": {"size": [4, 5], "counts": "06"})")));
  EXPECT_NE(err.find("runs sum to 6 but size is 4x5 = 20"), std::string::npos) << err;
  // A continuation bit on the last character: truncated.
  const std::string err2 = load_error(
      write_coco_temp("rletrunc.json", one_ann(R"("segmentation": {"size": [4, 5], "counts": "0P"})")));
  EXPECT_NE(err2.find("truncated count"), std::string::npos) << err2;
}

TEST(CocoJson, UncompressedRleWrongTotalFails) {
  const std::string err = load_error(
      write_coco_temp("ursum.json", one_ann(R"("segmentation": {"size": [4, 5], "counts": [3, 4]})")));
  EXPECT_NE(err.find("annotations[0] (id 11).segmentation.counts"), std::string::npos) << err;
  EXPECT_NE(err.find("runs sum to 7"), std::string::npos) << err;
}

TEST(CocoJson, RleSizeDifferentFromImageFails) {
  const std::string err = load_error(
      write_coco_temp("rlesize.json", one_ann(R"("segmentation": {"size": [5, 4], "counts": [20]})")));
  EXPECT_NE(err.find("segmentation.size [5, 4] differs from image 1 size [4, 5]"), std::string::npos)
      << err;
}

TEST(CocoJson, ShortPolygonNamesField) {
  const std::string path =
      write_coco_temp("shortpoly.json", one_ann(R"("segmentation": [[0, 0, 1, 1, 2, 2], [0, 0, 3, 3]])"));
  const std::string err = load_error(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("annotations[0] (id 11).segmentation[1]"), std::string::npos) << err;
  EXPECT_NE(err.find("polygon has 4 coordinates"), std::string::npos) << err;
  const std::string err2 =
      load_error(write_coco_temp("oddpoly.json", one_ann(R"("segmentation": [[0, 0, 1, 1, 2, 2, 3]])")));
  EXPECT_NE(err2.find("polygon has 7 coordinates"), std::string::npos) << err2;
}

TEST(CocoJson, FlatPolygonListFails) {
  const std::string err =
      load_error(write_coco_temp("flat.json", one_ann(R"("segmentation": [0, 0, 1, 1, 2, 2])")));
  EXPECT_NE(err.find("annotations[0] (id 11).segmentation[0]"), std::string::npos) << err;
  EXPECT_NE(err.find("list of lists"), std::string::npos) << err;
}

TEST(CocoJson, WrongTypesNameTheField) {
  std::string err = load_error(write_coco_temp("t1.json", one_ann(R"("iscrowd": "no")")));
  EXPECT_NE(err.find("annotations[0] (id 11).iscrowd: expected an integer, got a string"),
            std::string::npos)
      << err;
  err = load_error(write_coco_temp("t2.json", R"({"images": [{"id": 1, "height": [1]}]})"));
  EXPECT_NE(err.find("images[0] (id 1).height: expected a scalar"), std::string::npos) << err;
  err = load_error(write_coco_temp("t3.json", R"({"images": {}})"));
  EXPECT_NE(err.find("images: expected an array"), std::string::npos) << err;
  err = load_error(write_coco_temp("t4.json", R"([1, 2])"));
  EXPECT_NE(err.find("top-level value must be an object"), std::string::npos) << err;
  err = load_error(write_coco_temp("t5.json", R"({"annotations": []})"));
  EXPECT_NE(err.find("no \"images\" array"), std::string::npos) << err;
  err = load_error(write_coco_temp("t6.json", one_ann(R"("bbox2": 1, "bbox": [1, 2, 3])")));
  EXPECT_NE(err.find("bbox: expected 4 numbers"), std::string::npos) << err;
}

TEST(CocoJson, CrossReferencesChecked) {
  std::string err = load_error(write_coco_temp("x1.json", R"({"images": [{"id": 1}, {"id": 1}]})"));
  EXPECT_NE(err.find("images[1]: duplicate image id 1"), std::string::npos) << err;
  err = load_error(write_coco_temp(
      "x2.json", R"({"images": [{"id": 1}], "annotations": [{"id": 4, "image_id": 2, "category_id": 1}]})"));
  EXPECT_NE(err.find("annotations[0] (id 4): image_id 2 is not in images"), std::string::npos) << err;
  err = load_error(write_coco_temp("x3.json", R"({"images": [{"id": 1}], "categories": [{"id": 1}],
     "annotations": [{"id": 4, "image_id": 1, "category_id": 2}]})"));
  EXPECT_NE(err.find("category_id 2 is not in categories"), std::string::npos) << err;
}

TEST(CocoJson, MissingFile) {
  const std::string err = load_error("/nonexistent/instances.json");
  EXPECT_NE(err.find("/nonexistent/instances.json: cannot open file"), std::string::npos) << err;
}

TEST(CocoJson, SharedDatasetsCounts) {
  INSTSEG_REQUIRE_SHARED();
  // Counts checked with python's json module (see tests/data/io/README.md).
  const CocoFile coco = load_coco_json(test::shared_path("data/coco128/instances.json"));
  EXPECT_EQ(coco.images.size(), 128u);
  EXPECT_EQ(coco.annotations.size(), 939u);
  EXPECT_EQ(coco.categories.size(), 80u);
  size_t polys = 0, urle = 0, crowd = 0, poly_parts = 0, coords = 0;
  for (const auto& a : coco.annotations) {
    polys += a.segmentation.kind == CocoSegmentation::Kind::polygons;
    urle += a.segmentation.kind == CocoSegmentation::Kind::rle_uncompressed;
    crowd += a.iscrowd;
    poly_parts += a.segmentation.polygons.size();
    for (const auto& p : a.segmentation.polygons) coords += p.size();
  }
  EXPECT_EQ(polys, 929u);
  EXPECT_EQ(urle, 10u);
  EXPECT_EQ(crowd, 10u);
  EXPECT_EQ(poly_parts, 1048u);
  EXPECT_EQ(coords, 44752u);
  const CocoAnnotation& a0 = coco.annotations[0];
  EXPECT_EQ(a0.id, 1774);
  EXPECT_EQ(a0.image_id, 74);
  EXPECT_EQ(a0.category_id, 18);
  EXPECT_DOUBLE_EQ(a0.bbox[0], 61.87);
  EXPECT_DOUBLE_EQ(a0.bbox[3], 103.18);
  EXPECT_DOUBLE_EQ(a0.area, 18234.62355);

  const CocoFile tr = load_coco_json(test::shared_path("data/nuclei/annotations/train.json"));
  EXPECT_EQ(tr.images.size(), 50u);
  EXPECT_EQ(tr.annotations.size(), 3187u);
  const CocoFile va = load_coco_json(test::shared_path("data/nuclei/annotations/val.json"));
  EXPECT_EQ(va.images.size(), 15u);
  EXPECT_EQ(va.annotations.size(), 965u);
  for (const auto& a : va.annotations)
    ASSERT_EQ(a.segmentation.kind, CocoSegmentation::Kind::rle_compressed);

  const CocoFile lm = load_coco_json(test::shared_path("data/labelme3/instances.json"));
  EXPECT_EQ(lm.images.size(), 3u);
  EXPECT_EQ(lm.annotations.size(), 12u);
  EXPECT_EQ(lm.categories.size(), 21u);
}

// One image of 100 x 50 and the given annotations (JSON objects).
std::string with_annotations(const std::string& name, const std::string& anns) {
  return write_coco_temp(name, R"({"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 50}],
    "categories": [{"id": 1, "name": "x"}], "annotations": [)" + anns + "]}");
}

// pycocotools would mis-evaluate these; they used to be accepted silently.
TEST(CocoJson, NegativeBoxSizeIsAnErrorNamingTheAnnotation) {
  const std::string path = with_annotations(
      "negw.json", R"({"id": 7, "image_id": 1, "category_id": 1, "bbox": [10, 10, -5, 4], "area": 20, "iscrowd": 0})");
  EXPECT_EQ(load_error(path), path + ": annotations[0] (id 7): bbox [10, 10, -5, 4] has a negative width "
                                     "(COCO boxes are [x, y, width, height])");
  const std::string path2 = with_annotations(
      "negh.json", R"({"id": 8, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, -4], "area": 20, "iscrowd": 0})");
  EXPECT_NE(load_error(path2).find("annotations[0] (id 8): bbox [10, 10, 5, -4] has a negative height"),
            std::string::npos);
}

TEST(CocoJson, DuplicateAnnotationIdsAreAnError) {
  const std::string a = R"({"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4], "area": 20, "iscrowd": 0})";
  const std::string b = R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4], "area": 20, "iscrowd": 0})";
  const std::string path = with_annotations("dup.json", a + "," + b + "," + a);
  EXPECT_EQ(load_error(path),
            path + ": annotations[2] (id 3): duplicate annotation id 3 (also annotations[0]); annotation ids must be unique");
  const std::string noid = with_annotations("noid.json", R"({"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4]})");
  EXPECT_NE(load_error(noid).find("annotations[0]: missing \"id\""), std::string::npos) << load_error(noid);
}

// A vertex at 1e9 made rasterising throw std::bad_alloc (no file named); at
// 1e7 it took 1.7 GB and 13 s. Now the loader refuses it, naming the annotation.
TEST(CocoJson, PolygonFarOutsideItsImageIsAnError) {
  for (const char* far : {"1e9", "1e7", "201", "-101"}) {
    const std::string path = with_annotations(
        "far.json", std::string(R"({"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4], "area": 20,
                                    "iscrowd": 0, "segmentation": [[1, 1, 5, 1, 5, 4], [1, 1, )") +
                        far + R"(, 1, 5, 4]]})");
    const std::string err = load_error(path);
    EXPECT_NE(err.find(path + ": annotations[0] (id 5): segmentation[1] vertex 1 ("), std::string::npos) << err;
    EXPECT_NE(err.find("is far outside image 1 (100x50)"), std::string::npos) << err;
  }
  // Slightly outside (as COCO annotators often draw) is fine.
  const std::string ok = with_annotations(
      "near.json", R"({"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 4], "area": 20, "iscrowd": 0,
                      "segmentation": [[-3, -2, 104, 1, 5, 55]]})");
  EXPECT_EQ(load_error(ok), "");
}

// An RLE claiming 1e12 pixels is refused before anything is allocated.
TEST(CocoJson, HugeRleSizeIsAnError) {
  const std::string path = write_coco_temp("bigrle.json", R"({"images": [{"id": 1, "file_name": "a.png"}],
    "categories": [{"id": 1, "name": "x"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
    "segmentation": {"size": [1000000, 1000000], "counts": "0"}, "area": 1, "bbox": [0, 0, 1, 1]}]})");
  EXPECT_NE(load_error(path).find("size 1000000x1000000 is more than 2^32-1 pixels"), std::string::npos)
      << load_error(path);
}

}  // namespace
}  // namespace instseg
