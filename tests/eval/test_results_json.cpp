// Results JSON read/write, loadRes rules and the error messages for
// malformed input.
#include "common/test_util.h"
#include "instseg/core/check.h"
#include "instseg/eval/rle.h"
#include "instseg/io/coco_eval_io.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/results_json.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace instseg {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir("eval_results") + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Expects `fn` to throw instseg::Error whose message holds every piece.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& pieces) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// A 2-image GT file: image 1 (4x5) with a polygon, image 2 (4x5) with RLE.
const char* kGt = R"({"images": [{"id": 1, "height": 4, "width": 5, "file_name": "a.png"},
                                {"id": 2, "height": 4, "width": 5, "file_name": "b.png"}],
  "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0,
     "segmentation": [[1, 1, 3, 1, 3, 3, 1, 3]]},
    {"id": 2, "image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 4], "area": 20, "iscrowd": 1,
     "segmentation": {"size": [4, 5], "counts": [0, 20]}}]})";

TEST(ResultsJson, RoundTrip) {
  std::vector<CocoResult> rs(2);
  rs[0].image_id = 1;
  rs[0].category_id = 3;
  rs[0].score = 0.9876543283462524;
  rs[0].has_bbox = true;
  rs[0].bbox[0] = 1.5;
  rs[0].bbox[2] = 0.1;
  rs[0].segmentation.kind = CocoSegmentation::Kind::rle_compressed;
  rs[0].segmentation.h = 4;
  rs[0].segmentation.w = 5;
  rs[0].segmentation.counts = "54";
  rs[1].image_id = 2;
  rs[1].category_id = 7;
  rs[1].score = 0.5;
  rs[1].segmentation.kind = CocoSegmentation::Kind::polygons;
  rs[1].segmentation.polygons = {{0, 0, 1, 0, 1, 1}};
  const std::string path = test::temp_dir("eval_results") + "/rt.json";
  save_results_json(path, rs);
  const auto back = load_results_json(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].score, rs[0].score);
  EXPECT_TRUE(back[0].has_bbox);
  EXPECT_EQ(back[0].bbox[0], 1.5);
  EXPECT_EQ(back[0].bbox[2], 0.1);
  EXPECT_EQ(back[0].segmentation.kind, CocoSegmentation::Kind::rle_compressed);
  EXPECT_EQ(back[0].segmentation.counts, "54");
  EXPECT_EQ(back[0].segmentation.h, 4);
  EXPECT_FALSE(back[1].has_bbox);
  EXPECT_EQ(back[1].segmentation.kind, CocoSegmentation::Kind::polygons);
  EXPECT_EQ(back[1].segmentation.polygons, rs[1].segmentation.polygons);
}

TEST(ResultsJson, MalformedFilesNameFileAndPosition) {
  const std::string trunc = write_file("trunc.json", R"([{"image_id": 1, "category_id": 3, "score": 0.5}, {"image_id": 1, "cat)");
  expect_error([&] { load_results_json(trunc); }, {"trunc.json", "byte ", "invalid JSON", "after 1 complete results"});
  const std::string score = write_file("score.json", R"([{"image_id": 1, "category_id": 3, "score": "high"}])");
  expect_error([&] { load_results_json(score); }, {"score.json", "results[0].score", "expected a number"});
  const std::string bbox = write_file("bbox.json", R"([{"image_id": 1, "category_id": 3, "score": 1, "bbox": [1, 2, 3]}])");
  expect_error([&] { load_results_json(bbox); }, {"bbox.json", "results[0].bbox", "expected 4 numbers"});
  const std::string noid = write_file("noid.json", R"([{"category_id": 3, "score": 1}])");
  expect_error([&] { load_results_json(noid); }, {"noid.json", "results[0]", "no image_id"});
  const std::string obj = write_file("obj.json", R"({"image_id": 1})");
  expect_error([&] { load_results_json(obj); }, {"obj.json", "must be a list"});
  const std::string size = write_file("size.json",
                                      R"([{"image_id": 1, "category_id": 3, "score": 1,
                                           "segmentation": {"size": [4, "x"], "counts": "54"}}])");
  expect_error([&] { load_results_json(size); }, {"size.json", "results[0].segmentation.size[1]"});
}

TEST(ResultsJson, EscapesNumbersAndWhitespace) {
  // Escaped keys and strings (an RLE string holds '\', code 92, escaped as
  // "\\"), numbers in exponent form, ids written as 2.0 / 1e0, CRLF and tabs,
  // unknown keys with nested values, "bbox": [] (no bbox), uncompressed counts
  // and polygons.
  const std::string path = write_file("forms.json",
                                      "[\r\n\t{\"image\\u005fid\": 1e0, \"category_id\": 3.0, \"score\": 9.5E-1,\r\n"
                                      "\t \"bbox\" : [ 1e1 , 2.5E+1, 0.0, -0 ], \"extra\": {\"a\": [1, {\"b\": null}], "
                                      "\"c\": \"\\u00e9\\\"\"},\r\n"
                                      "\t \"segmentation\": {\"counts\": \"0\\\\\\/1\", \"size\": [4, 5]}} ,\n"
                                      "{\"score\": -2.5e-3, \"bbox\": [], \"category_id\": 7, \"image_id\": 2,"
                                      " \"segmentation\": {\"size\": [4, 5], \"counts\": [0, 20]}},\n"
                                      "{\"image_id\": 2, \"category_id\": 7, \"score\": 1,"
                                      " \"segmentation\": [[0, 0, 1, 0, 1, 1], [2, 2, 3.5e0, 2, 3, 3]]}\n]\n");
  const auto rs = load_results_json(path);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].image_id, 1);
  EXPECT_EQ(rs[0].category_id, 3);
  EXPECT_EQ(rs[0].score, 0.95);
  EXPECT_TRUE(rs[0].has_bbox);
  EXPECT_EQ(rs[0].bbox[0], 10);
  EXPECT_EQ(rs[0].bbox[1], 25);
  EXPECT_EQ(rs[0].bbox[3], 0);
  EXPECT_EQ(rs[0].segmentation.kind, CocoSegmentation::Kind::rle_compressed);
  EXPECT_EQ(rs[0].segmentation.counts, "0\\/1");
  EXPECT_EQ(rs[0].segmentation.h, 4);
  EXPECT_EQ(rs[0].segmentation.w, 5);
  EXPECT_EQ(rs[1].score, -2.5e-3);
  EXPECT_FALSE(rs[1].has_bbox);
  EXPECT_EQ(rs[1].segmentation.kind, CocoSegmentation::Kind::rle_uncompressed);
  EXPECT_EQ(rs[1].segmentation.ucounts, (std::vector<uint32_t>{0, 20}));
  EXPECT_EQ(rs[2].segmentation.kind, CocoSegmentation::Kind::polygons);
  EXPECT_EQ(rs[2].segmentation.polygons,
            (std::vector<std::vector<double>>{{0, 0, 1, 0, 1, 1}, {2, 2, 3.5, 2, 3, 3}}));
  EXPECT_TRUE(load_results_json(write_file("empty_list.json", " [ ] ")).empty());
}

TEST(ResultsJson, SameNumbersAsADom) {
  // Every number of the case1 fixture (mmdet-written) is the double that
  // nlohmann's DOM parser reads.
  const std::string path = test::data_path("eval/case1_basic/dets.json");
  const auto rs = load_results_json(path);
  std::ifstream f(path);
  const auto dom = nlohmann::json::parse(f);
  ASSERT_EQ(rs.size(), dom.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].score, dom[i]["score"].get<double>()) << i;
    EXPECT_EQ(rs[i].image_id, dom[i]["image_id"].get<int64_t>()) << i;
    if (dom[i].contains("bbox")) {
      for (int j = 0; j < 4; ++j) EXPECT_EQ(rs[i].bbox[j], dom[i]["bbox"][j].get<double>()) << i;
    }
    if (dom[i].contains("segmentation") && dom[i]["segmentation"].is_object() &&
        dom[i]["segmentation"]["counts"].is_string()) {
      EXPECT_EQ(rs[i].segmentation.counts, dom[i]["segmentation"]["counts"].get<std::string>()) << i;
    }
  }
}

TEST(ResultsJson, SyntaxAndTypeErrorsNameTheFile) {
  // Truncated inside an entry, after one, and an empty file.
  const std::string cut = write_file("cut.json", R"([{"image_id": 1, "category_id": 3, "score": 0.5},
    {"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": {"size": [4, 5], "counts": "PQ)");
  expect_error([&] { load_results_json(cut); },
               {"cut.json: byte ", "invalid JSON (unexpected end of input inside a string)", "in results[1]",
                "after 1 complete results"});
  const std::string after = write_file("after.json", R"([{"image_id": 1, "category_id": 3, "score": 0.5},)");
  expect_error([&] { load_results_json(after); },
               {"after.json: byte 49: invalid JSON (unexpected end of input; expected a value) after 1 complete results"});
  expect_error([&] { load_results_json(write_file("empty.json", "")); },
               {"empty.json: byte 0: invalid JSON (unexpected end of input; expected a value)"});
  // Malformed tokens: a bad escape, a bad number, a trailing comma, content after the list.
  expect_error([&] { load_results_json(write_file("esc.json", R"([{"image_id": 1, "x": "\q"}])")); },
               {"esc.json: byte 23: invalid JSON (invalid escape", "in results[0]"});
  expect_error([&] { load_results_json(write_file("num.json", R"([{"image_id": 1., "score": 1}])")); },
               {"num.json: byte 16: invalid JSON (invalid number: expected a digit after '.'"});
  expect_error([&] { load_results_json(write_file("comma.json", R"([{"image_id": 1, "category_id": 3, "score": 1},])")); },
               {"comma.json: byte 47: invalid JSON (unexpected ']'; expected a value) after 1 complete results"});
  expect_error([&] { load_results_json(write_file("tail.json", R"([] [])")); },
               {"tail.json: byte 3: invalid JSON (unexpected '['; expected the end of the file"});
  // Wrong types: each names the file, the entry, the field and the byte where the value starts.
  expect_error([&] { load_results_json(write_file("t1.json", R"([{"image_id": "1", "category_id": 3, "score": 1}])")); },
               {"t1.json: results[0].image_id: expected an integer, got a string (near byte 14)"});
  expect_error([&] { load_results_json(write_file("t2.json", R"([{"image_id": 1.5, "category_id": 3, "score": 1}])")); },
               {"t2.json: results[0].image_id: expected an integer id"});
  expect_error([&] { load_results_json(write_file("t3.json", R"([{"image_id": 1, "score": [1]}])")); },
               {"t3.json: results[0].score: expected a number (near byte 26)"});
  expect_error([&] { load_results_json(write_file("t4.json", R"([{"image_id": 1, "bbox": "x"}])")); },
               {"t4.json: results[0].bbox: expected a list or an object, got a string"});
  expect_error([&] { load_results_json(write_file("t5.json", R"([{"image_id": 1, "bbox": [1, 2, 3, null]}])")); },
               {"t5.json: results[0].bbox[3]: expected a number, got null"});
  expect_error([&] { load_results_json(write_file("t6.json", R"([{"image_id": 1, "bbox": [1, 2, 3, 4, 5]}])")); },
               {"t6.json: results[0].bbox[4]: more than 4 numbers"});
  expect_error(
      [&] { load_results_json(write_file("t7.json", R"([{"image_id": 1, "segmentation": {"size": [4, 5], "counts": 5}}])")); },
      {"t7.json: results[0].segmentation.counts: expected a string or a list of run lengths, got a number"});
  expect_error([&] { load_results_json(write_file("t8.json", R"([{"image_id": 1, "segmentation": {"counts": "5"}}])")); },
               {"t8.json: results[0].segmentation: RLE without \"size\""});
  expect_error([&] { load_results_json(write_file("t9.json", R"([{"image_id": 1, "segmentation": [[0, 0, 1, 0, 1]]}])")); },
               {"t9.json: results[0].segmentation: polygon 0 has 5 coordinates"});
  expect_error([&] { load_results_json(write_file("t10.json", R"([{"image_id": 1, "segmentation": [1]}])")); },
               {"t10.json: results[0].segmentation[0]: expected a polygon"});
  expect_error([&] { load_results_json(write_file("t11.json", R"([[1]])")); },
               {"t11.json: results[0]: expected an object (near byte 1)"});
  expect_error([&] { load_results_json(write_file("t12.json", R"([{"image_id": 1, "category_id": 3}])")); },
               {"t12.json: results[0]: no score"});
  expect_error(
      [&] { load_results_json(write_file("t13.json", R"([{"image_id": 1, "segmentation": {"size": [4, 5], "counts": [1, -2]}}])")); },
      {"t13.json: results[0].segmentation.counts[1]: expected a non-negative run length"});
}

TEST(ResultsJson, UnknownIdsAndBadRleAreErrors) {
  const std::string gt_path = write_file("gt.json", kGt);
  const CocoFile gt = load_coco_json(gt_path);
  const std::string img = write_file("img.json", R"([{"image_id": 1, "category_id": 3, "score": 1, "bbox": [0,0,1,1]},
                                                     {"image_id": 9, "category_id": 3, "score": 1, "bbox": [0,0,1,1]}])");
  expect_error([&] { coco_results_for_eval(gt, load_results_json(img), eval::IouType::bbox, img); },
               {"img.json", "results[1].image_id", "9", "gt.json"});
  const std::string cat = write_file("cat.json", R"([{"image_id": 1, "category_id": 4, "score": 1, "bbox": [0,0,1,1]}])");
  expect_error([&] { coco_results_for_eval(gt, load_results_json(cat), eval::IouType::bbox, cat); },
               {"cat.json", "results[0].category_id", "4", "gt.json"});
  // 'o' + 1 is outside the RLE alphabet: the message names the character.
  const std::string rle = write_file("rle.json", R"([{"image_id": 1, "category_id": 3, "score": 1,
      "segmentation": {"size": [4, 5], "counts": "5p"}}])");
  expect_error([&] { coco_results_for_eval(gt, load_results_json(rle), eval::IouType::segm, rle); },
               {"rle.json", "results[0].segmentation", "character 1"});
  const std::string sum = write_file("sum.json", R"([{"image_id": 1, "category_id": 3, "score": 1,
      "segmentation": {"size": [4, 5], "counts": "53"}}])");
  expect_error([&] { coco_results_for_eval(gt, load_results_json(sum), eval::IouType::segm, sum); },
               {"sum.json", "results[0].segmentation", "sum to 8"});
}

TEST(ResultsJson, LoadResRules) {
  const CocoFile gt = load_coco_json(write_file("gt.json", kGt));
  // GT: polygon [1,1]-[3,3] -> rleFrPoly covers 2x2 pixels; crowd RLE kept.
  const auto gts = coco_gt_for_eval(gt, eval::IouType::segm);
  ASSERT_EQ(gts.size(), 2u);
  EXPECT_EQ(rle::area(gts[0].mask), 4u);
  EXPECT_EQ(gts[0].area, 4);
  EXPECT_TRUE(gts[1].iscrowd);
  EXPECT_EQ(rle::area(gts[1].mask), 20u);
  // A 4x5 mask with pixels (y,x) = (0..1, 0): column-major runs 0,2,18.
  rle::Rle m;
  m.h = 4;
  m.w = 5;
  m.counts = {0, 2, 18};
  const std::string counts = rle::to_string(m);
  std::vector<CocoResult> rs(2);
  for (auto& r : rs) {
    r.image_id = 1;
    r.category_id = 3;
    r.score = 0.5;
    r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
    r.segmentation.h = 4;
    r.segmentation.w = 5;
    r.segmentation.counts = counts;
  }
  rs[0].has_bbox = true;
  rs[0].bbox[2] = 3;
  rs[0].bbox[3] = 7;
  rs[1].has_bbox = true;
  rs[1].bbox[2] = 2;
  rs[1].bbox[3] = 2;
  // First entry has a bbox: area = w*h for every entry (also for segm).
  auto d = coco_results_for_eval(gt, rs, eval::IouType::segm, "r.json");
  EXPECT_EQ(d[0].id, 1);
  EXPECT_EQ(d[1].id, 2);
  EXPECT_EQ(d[0].area, 21);
  EXPECT_EQ(d[1].area, 4);
  // Without the bbox (mmdet's segm evaluation): area and bbox from the mask.
  LoadResOptions opt;
  opt.ignore_bbox = true;
  d = coco_results_for_eval(gt, rs, eval::IouType::segm, "r.json", opt);
  EXPECT_EQ(d[0].area, 2);
  EXPECT_EQ(d[0].bbox, (std::array<double, 4>{0, 0, 1, 2}));
  // First entry without bbox: the segm branch for all, later bboxes kept.
  rs[0].has_bbox = false;
  d = coco_results_for_eval(gt, rs, eval::IouType::bbox, "r.json");
  EXPECT_EQ(d[0].area, 2);
  EXPECT_EQ(d[1].area, 2);
  EXPECT_EQ(d[1].bbox, (std::array<double, 4>{0, 0, 2, 2}));
  // First entry with bbox, a later one without: loadRes would fail.
  rs[0].has_bbox = true;
  rs[1].has_bbox = false;
  expect_error([&] { coco_results_for_eval(gt, rs, eval::IouType::segm, "r.json"); },
               {"r.json", "results[1]", "no \"bbox\""});
}

}  // namespace
}  // namespace instseg
