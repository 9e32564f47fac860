#include "instseg/io/json_array_file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "common/test_util.h"
#include "instseg/core/check.h"
#include "instseg/io/results_json.h"

namespace instseg {
namespace {

CocoResult result(int64_t image_id, double score) {
  CocoResult r;
  r.image_id = image_id;
  r.category_id = 3;
  r.score = score;
  r.has_bbox = true;
  r.bbox[0] = 1.5;
  r.bbox[2] = 4;
  r.bbox[3] = 2.25;
  r.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
  r.segmentation.h = 2;
  r.segmentation.w = 3;
  r.segmentation.counts = "06";
  return r;
}

// predict used to keep every result in memory and write results.json at the
// end: a run killed at image 59 of 60 (or stopped by one unreadable image)
// left nothing. The file must be a complete JSON array after every commit.
TEST(JsonArrayFile, CompleteAfterEveryCommit) {
  const std::string path = test::temp_dir("json_array") + "/results.json";
  JsonArrayFile f(path);
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(path)), nlohmann::json::array());
  f.append(result_json(result(1, 0.5)));
  f.append(result_json(result(1, 0.25)));
  // Not committed: the file still holds the empty array.
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(path)).size(), 0u);
  f.commit();
  EXPECT_EQ(f.committed(), 2u);
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(path)).size(), 2u);
  f.commit();  // nothing new: unchanged
  f.append(result_json(result(2, 0.75)));
  f.commit();
  const nlohmann::json j = nlohmann::json::parse(test::read_bytes(path));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[2]["image_id"], 2);
  EXPECT_EQ(j[2]["score"], 0.75);
  EXPECT_EQ(load_results_json(path).size(), 3u);
}

// The same bytes as save_results_json (one format for results files).
TEST(JsonArrayFile, SameLayoutAsSaveResultsJson) {
  const std::string dir = test::temp_dir("json_array");
  const std::vector<CocoResult> rs = {result(1, 0.5), result(4, 0.125), result(9, 1)};
  save_results_json(dir + "/whole.json", rs);
  {
    JsonArrayFile f(dir + "/streamed.json");
    for (const auto& r : rs) {
      f.append(result_json(r));
      f.commit();
    }
  }
  EXPECT_EQ(test::read_bytes(dir + "/streamed.json"), test::read_bytes(dir + "/whole.json"));
  JsonArrayFile empty(dir + "/empty.json");
  save_results_json(dir + "/empty_whole.json", {});
  EXPECT_EQ(test::read_bytes(dir + "/empty.json"), test::read_bytes(dir + "/empty_whole.json"));
}

// A full disk names the file (/dev/full answers every write with ENOSPC).
TEST(JsonArrayFile, WriteErrorsNameTheFile) {
  try {
    JsonArrayFile f("/dev/full");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no space left on device writing /dev/full"), std::string::npos) << e.what();
  }
  EXPECT_THROW(JsonArrayFile("/nonexistent_instseg_dir/r.json"), Error);
}

}  // namespace
}  // namespace instseg
