// `instseg train` end to end: the README's nuclei SOLOv2 config shrunk with
// --cfg-options (two training images of data/nuclei at 128 px, batch 1, one
// epoch), then `--resume` continuing to a second epoch from last_checkpoint.
#include "common/test_util.h"
#include "instseg/checkpoint/pth_reader.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

namespace instseg {
namespace {
namespace fs = std::filesystem;

using test::lines_with;

class CliTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("cli_train");
    ann_ = test::write_small_nuclei_subset(dir_, 2);
  }

  // The shrunk command line (both loaders read the 2-image file).
  static std::string command(const std::string& work_dir, int epochs, const std::string& extra = "") {
    return test::instseg_binary() + " --threads 2 " + test::tiny_train_args(ann_, work_dir, epochs, extra);
  }

  // Each run writes ~100 MB checkpoints: do not leave them in /tmp.
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string dir_, ann_;
};
std::string CliTrainTest::dir_, CliTrainTest::ann_;

// Every "Epoch(train)" line's losses parse as finite numbers.
void expect_finite_losses(const std::string& log, size_t min_lines) {
  const auto lines = lines_with(log, "Epoch(train)");
  EXPECT_GE(lines.size(), min_lines) << log;
  const std::regex loss_re("(loss[a-z_]*): ([-+0-9.eEinfa]+)");
  for (const auto& l : lines) {
    int n = 0;
    for (std::sregex_iterator it(l.begin(), l.end(), loss_re), end; it != end; ++it, ++n)
      EXPECT_TRUE(std::isfinite(std::stod((*it)[2].str()))) << l;
    EXPECT_GE(n, 3) << "loss, loss_mask, loss_cls expected in: " << l;
  }
}

TEST_F(CliTrainTest, TrainsEvaluatesCheckpointsAndResumes) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string wd = dir_ + "/work";
  int rc = -1;
  const std::string out1 = test::run_command(command(wd, 1), &rc);
  ASSERT_EQ(rc, 0) << out1;
  expect_finite_losses(out1, 2);  // logger interval 1, 2 iterations
  EXPECT_NE(out1.find("Epoch(train) [1][2/2]"), std::string::npos) << out1;
  // Validation: the COCO summary and mmdet's metric names. After two
  // iterations from random weights the model may detect nothing at all; then,
  // as mmdet's CocoMetric, the evaluator warns and reports zeros instead of a
  // summary (the summary itself is covered by the `instseg test` CLI test).
  if (out1.find("testing results of the whole dataset are empty") == std::string::npos) {
    EXPECT_NE(out1.find("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"), std::string::npos)
        << out1;
    EXPECT_NE(out1.find("segm_mAP_copypaste:"), std::string::npos) << out1;
  }
  EXPECT_NE(out1.find("Epoch(val) [1][2/2]"), std::string::npos) << out1;
  EXPECT_NE(out1.find("coco/segm_mAP: "), std::string::npos) << out1;
  EXPECT_TRUE(fs::exists(wd + "/epoch_1.pth"));
  EXPECT_TRUE(fs::exists(wd + "/last_checkpoint"));
  EXPECT_TRUE(fs::exists(wd + "/solov2-light_r18_fpn_nuclei.yaml"));  // the resolved config
  {
    std::ifstream lc(wd + "/last_checkpoint");
    std::string path;
    std::getline(lc, path);
    EXPECT_EQ(fs::path(path).filename(), "epoch_1.pth");
  }

  // --resume (no value): continues from last_checkpoint with a longer schedule.
  const std::string out2 = test::run_command(command(wd, 2, "--resume"), &rc);
  ASSERT_EQ(rc, 0) << out2;
  EXPECT_NE(out2.find("resumed from"), std::string::npos) << out2;
  EXPECT_NE(out2.find("epoch 1, iteration 2"), std::string::npos) << out2;
  EXPECT_EQ(lines_with(out2, "Epoch(train) [1]").size(), 0u) << out2;  // epoch 1 is not repeated
  EXPECT_NE(out2.find("Epoch(train) [2][2/2]"), std::string::npos) << out2;
  expect_finite_losses(out2, 2);
  EXPECT_TRUE(fs::exists(wd + "/epoch_2.pth"));

  // Exact resume: the resumed epoch 2 logs the same losses as an uninterrupted 2-epoch run.
  const std::string out4 = test::run_command(command(dir_ + "/straight", 2), &rc);
  ASSERT_EQ(rc, 0) << out4;
  const std::regex values_re("(loss[a-z_]*: [-+0-9.eE]+)");
  auto epoch2_losses = [&](const std::string& log) {
    std::string v;
    for (const auto& l : lines_with(log, "Epoch(train) [2]"))
      for (std::sregex_iterator it(l.begin(), l.end(), values_re), end; it != end; ++it) v += (*it)[1].str() + " ";
    return v;
  };
  EXPECT_FALSE(epoch2_losses(out4).empty());
  EXPECT_EQ(epoch2_losses(out2), epoch2_losses(out4));

  // A wrong key is reported with its dotted path, before any training.
  const std::string out3 = test::run_command(command(dir_ + "/bad", 1) + " optim_wrapper.optimizer.momentun=0.9", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out3.find("optim_wrapper.optimizer.momentun"), std::string::npos) << out3;
  EXPECT_FALSE(fs::exists(dir_ + "/bad/epoch_1.pth"));
}

// Fine-tuning as mmdetection users do it: the backbone's init_cfg Pretrained
// (prefix 'backbone.' out of a detector checkpoint) and load_from a model-zoo
// checkpoint with another class count. The fixture is mmdetection's SOLOv2
// (R-18 at base_channels 16, 3 classes); the nuclei config is shaped like it
// with --cfg-options and keeps its 1 class: mask_head.conv_cls.* do not fit
// and are skipped with a report, everything else is loaded, training runs.
TEST_F(CliTrainTest, FineTunesFromACheckpointWithAnotherClassCount) {
  INSTSEG_REQUIRE_SHARED();
  const std::string ckpt = test::shared_path("fixtures/solov2/checkpoint.pth");
  const std::string shape =
      " model.backbone.base_channels=16 model.backbone.frozen_stages=1 model.neck.in_channels=[16,32,64,128]"
      " model.mask_head.stacked_convs=4 model.mask_head.mask_feature_head.feat_channels=64";
  const std::string pretrained = " model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint=" +
                                 ckpt + " model.backbone.init_cfg.prefix=backbone.";
  int rc = -1;
  const std::string out = test::run_command(command(dir_ + "/finetune", 1) + shape + pretrained + " load_from=" + ckpt, &rc);
  ASSERT_EQ(rc, 0) << out;
  // 1. init_cfg: every backbone tensor from the detector checkpoint's backbone.*.
  const size_t init_at = out.find("init_cfg: the ResNet-18 backbone from " + ckpt + " (prefix 'backbone.'): loaded ");
  ASSERT_NE(init_at, std::string::npos) << out;
  const std::regex counts_re("loaded ([0-9]+) of ([0-9]+) tensors");
  std::smatch m;
  const std::string init_line = out.substr(init_at, out.find('\n', init_at) - init_at);
  ASSERT_TRUE(std::regex_search(init_line, m, counts_re)) << init_line;
  EXPECT_EQ(m[1].str(), m[2].str()) << init_line;
  // 2. then load_from (mmengine's order): all but the classifier's 2 tensors,
  // which are reported with both shapes and skipped.
  const size_t load_at = out.find("load_weights: ");
  ASSERT_NE(load_at, std::string::npos) << out;
  EXPECT_LT(init_at, load_at) << out;
  const size_t total = load_state_dict(ckpt).size();
  EXPECT_NE(out.find("load_weights: " + std::to_string(total - 2) + " tensors from " + ckpt), std::string::npos)
      << out;
  EXPECT_NE(out.find("shape-mismatched 2 keys: mask_head.conv_cls.weight: checkpoint [3, 64, 3, 3] vs model [1, 64, "
                     "3, 3], mask_head.conv_cls.bias: checkpoint [3] vs model [1]"),
            std::string::npos)
      << out;
  const auto report = lines_with(out, "does not fit the SOLOv2 model");
  ASSERT_EQ(report.size(), 1u) << out;
  EXPECT_EQ(report[0].find("missing"), std::string::npos) << report[0];
  EXPECT_EQ(report[0].find("unexpected"), std::string::npos) << report[0];
  // 3. training runs.
  expect_finite_losses(out, 2);
  EXPECT_NE(out.find("Epoch(train) [1][2/2]"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir_ + "/finetune/epoch_1.pth"));

  // A zoo name whose file is not in the hub cache: the error names the path and the URL, before training.
  const std::string home = test::temp_dir("cli_train_torch_home");
  const std::string err =
      test::run_command("TORCH_HOME=" + home + " " + command(dir_ + "/nofile", 1) + " model.backbone.depth=50" +
              " model.neck.in_channels=[128,256,512,1024] model.backbone.init_cfg.type=Pretrained" +
              " model.backbone.init_cfg.checkpoint=torchvision://resnet50",
          &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find(home + "/hub/checkpoints/resnet50-0676ba61.pth does not exist"), std::string::npos) << err;
  EXPECT_NE(err.find("https://download.pytorch.org/models/resnet50-0676ba61.pth"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ + "/nofile/epoch_1.pth"));
}

}  // namespace
}  // namespace instseg
