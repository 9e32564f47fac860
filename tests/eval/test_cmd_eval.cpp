// `instseg eval` end to end on the copied case1 fixture: printed summary,
// mmdet copypaste lines and --json-out at full precision.
#include "common/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace instseg {
namespace {

std::string run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *rc = pclose(p);
  return out;
}

TEST(CmdEval, Case1) {
  if (!std::filesystem::exists(test::instseg_binary())) GTEST_SKIP() << "instseg CLI not built; skipping";
  const std::string dir = test::data_path("eval/case1_basic");
  const std::string json_out = test::temp_dir("cmd_eval") + "/stats.json";
  int rc = -1;
  const std::string out = run(test::instseg_binary() + " --log-level error eval --ann " + dir + "/gt.json --results " +
                                  dir + "/dets.json --json-out " + json_out + " 2>&1",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream ef(dir + "/expected.json");
  const auto exp = nlohmann::json::parse(ef);
  for (const std::string tag : {"segm", "bbox"}) {
    EXPECT_NE(out.find(exp["summary_text"][tag].get<std::string>()), std::string::npos) << out;
    char line[128];
    const auto& s = exp["stats"][tag];
    std::snprintf(line, sizeof(line), "%s_mAP_copypaste: %.3f %.3f %.3f %.3f %.3f %.3f", tag.c_str(),
                  s[0].get<double>(), s[1].get<double>(), s[2].get<double>(), s[3].get<double>(),
                  s[4].get<double>(), s[5].get<double>());
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  }
  std::ifstream jf(json_out);
  const auto got = nlohmann::json::parse(jf);
  for (const std::string tag : {"segm", "bbox"})
    for (int i = 0; i < 12; ++i) EXPECT_EQ(got[tag][i].get<double>(), exp["stats"][tag][i].get<double>());
  // --segm-area-from-mask gives pycocotools' numbers for bbox-less results.
  const std::string out2 = run(test::instseg_binary() + " --log-level error eval --iou-type segm --segm-area-from-mask"
                                   " --ann " + dir + "/gt.json --results " + dir + "/dets.json --json-out " +
                                   json_out + " 2>&1",
                               &rc);
  ASSERT_EQ(rc, 0) << out2;
  std::ifstream jf2(json_out);
  const auto got2 = nlohmann::json::parse(jf2);
  EXPECT_FALSE(got2.contains("bbox"));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got2["segm"][i].get<double>(), exp["stats"]["segm_segmonly"][i].get<double>());
  // A malformed results file: one error line naming the file, exit code 1.
  const std::string bad = test::temp_dir("cmd_eval") + "/bad.json";
  std::ofstream(bad) << "[{\"image_id\": 1, \"category_id\": 1, \"score\": 0.5, \"bbox\": [1, 2";
  const std::string out3 =
      run(test::instseg_binary() + " eval --ann " + dir + "/gt.json --results " + bad + " 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out3.find("bad.json: byte"), std::string::npos) << out3;
}

// --max-dets 100,300,1000: mmdet CocoMetric's numbers. case1 has at most a few
// detections per image and category, so AP@100 equals AP@1000 and only the
// printed maxDets and the AR@1 / AR@10 slots (now AR@100 / AR@300) change.
TEST(CmdEval, MaxDetsOfMmdet) {
  if (!std::filesystem::exists(test::instseg_binary())) GTEST_SKIP() << "instseg CLI not built; skipping";
  const std::string dir = test::data_path("eval/case1_basic");
  const std::string json_out = test::temp_dir("cmd_eval_md") + "/stats.json";
  int rc = -1;
  const std::string out = run(test::instseg_binary() + " --log-level error eval --iou-type bbox --max-dets 100,300,1000"
                                  " --ann " + dir + "/gt.json --results " + dir + "/dets.json --json-out " +
                                  json_out + " 2>&1",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("| area=   all | maxDets=100 ] ="), std::string::npos) << out;
  EXPECT_NE(out.find("IoU=0.50      | area=   all | maxDets=1000 ] ="), std::string::npos) << out;
  EXPECT_NE(out.find("| area=   all | maxDets=300 ] ="), std::string::npos) << out;
  std::ifstream ef(dir + "/expected.json");
  const auto exp = nlohmann::json::parse(ef);
  std::ifstream jf(json_out);
  const auto got = nlohmann::json::parse(jf);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(got["bbox"][i].get<double>(), exp["stats"]["bbox"][i].get<double>()) << i;
  EXPECT_EQ(got["bbox"][6].get<double>(), exp["stats"]["bbox"][8].get<double>());  // AR@100
  const std::string bad = run(test::instseg_binary() + " eval --max-dets 100,1000 --ann " + dir +
                                  "/gt.json --results " + dir + "/dets.json 2>&1",
                              &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(bad.find("--max-dets needs at least 3 values"), std::string::npos) << bad;
}

}  // namespace
}  // namespace instseg
