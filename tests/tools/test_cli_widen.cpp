// `instseg widen` end to end: a one-epoch nuclei SOLOv2-light checkpoint (the
// shrunk `instseg train` of cli_util.h) widened into the network with a 1.25x
// backbone and a 2x FPN / head, then `instseg test` of both on the same images
// with a low score threshold: the same detections (scores to 1e-4), i.e. the
// wider network computes the trained one's function. Errors: a narrower
// config, a missing input.
#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace instseg {
namespace {
namespace fs = std::filesystem;

// The widened network as overrides of the nuclei config (base_channels 32 -> 40, 64 -> 128, 32 -> 64).
const char* kWide =
    " model.backbone.base_channels=40 model.neck.in_channels=[40,80,160,320] model.neck.out_channels=128"
    " model.mask_head.in_channels=128 model.mask_head.feat_channels=128"
    " model.mask_head.mask_feature_head.feat_channels=64 model.mask_head.mask_feature_head.out_channels=128";

std::vector<double> scores_of(const std::string& results_json) {
  const nlohmann::json j = nlohmann::json::parse(test::read_bytes(results_json));
  std::vector<double> s;
  for (const auto& d : j) s.push_back(d.at("score").get<double>());
  std::sort(s.begin(), s.end());
  return s;
}

TEST(CliWiden, TheWidenedCheckpointGivesTheSameDetections) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string dir = test::temp_dir("cli_widen");
  const std::string ann = test::write_small_nuclei_subset(dir, 2);
  const std::string bin = test::instseg_binary() + " --threads 2 ";
  int rc = -1;
  std::string out = test::run_command(bin + test::tiny_train_args(ann, dir + "/work", 1), &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string ckpt = dir + "/work/epoch_1.pth", wide = dir + "/wide.pth";
  const std::string config = test::source_path("configs/solov2/solov2-light_r18_fpn_nuclei.yaml");

  out = test::run_command(bin + "widen " + ckpt + " " + config + " " + wide + " --noise 0 --cfg-options" + kWide, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(test::lines_with(out, "widen: " + wide + ": ").size(), 1u) << out;

  // A one-epoch model scores cells near the 0.01 prior and its masks stay under 0.5: lower thresholds
  // keep detections to compare (200 here).
  const std::string test_opts = " --cfg-options test_dataloader.dataset.data_root=" +
                                test::source_path("data/nuclei/") + " test_dataloader.dataset.ann_file=" + ann +
                                " test_evaluator.ann_file=" + ann +
                                " test_dataloader.dataset.pipeline.1.scale=[128,128] model.test_cfg.score_thr=0.005"
                                " model.test_cfg.mask_thr=0.1 model.test_cfg.filter_thr=0";
  out = test::run_command(bin + "test " + config + " " + ckpt + " --out " + dir + "/narrow.json" + test_opts, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = test::run_command(bin + "test " + config + " " + wide + " --out " + dir + "/wide.json" + test_opts + kWide, &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::vector<double> a = scores_of(dir + "/narrow.json"), b = scores_of(dir + "/wide.json");
  ASSERT_GT(a.size(), 0u) << "no detections: the comparison would prove nothing";
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4) << i;

  // The narrow config as the "wider" one for the wide checkpoint: refused, naming the key.
  out = test::run_command(bin + "widen " + wide + " " + config + " " + dir + "/back.pth", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("is narrower than the source"), std::string::npos) << out;
  EXPECT_NE(out.find(wide), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/back.pth"));
  out = test::run_command(bin + "widen " + dir + "/missing.pth " + config + " " + dir + "/x.pth" + " --cfg-options" + kWide, &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find(dir + "/missing.pth"), std::string::npos) << out;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace instseg
