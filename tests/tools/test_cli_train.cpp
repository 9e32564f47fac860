// `instseg train` end to end: the README's nuclei SOLOv2 config shrunk with
// --cfg-options (two training images of data/nuclei at 128 px, batch 1, one
// epoch), then `--resume` continuing to a second epoch from last_checkpoint.
#include "common/test_util.h"
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
std::string run(const std::string& cmd, int* rc) { return test::run_command(cmd, rc); }

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
  const std::string out1 = run(command(wd, 1), &rc);
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
  const std::string out2 = run(command(wd, 2, "--resume"), &rc);
  ASSERT_EQ(rc, 0) << out2;
  EXPECT_NE(out2.find("resumed from"), std::string::npos) << out2;
  EXPECT_NE(out2.find("epoch 1, iteration 2"), std::string::npos) << out2;
  EXPECT_EQ(lines_with(out2, "Epoch(train) [1]").size(), 0u) << out2;  // epoch 1 is not repeated
  EXPECT_NE(out2.find("Epoch(train) [2][2/2]"), std::string::npos) << out2;
  expect_finite_losses(out2, 2);
  EXPECT_TRUE(fs::exists(wd + "/epoch_2.pth"));

  // Exact resume: the resumed epoch 2 logs the same losses as an uninterrupted 2-epoch run.
  const std::string out4 = run(command(dir_ + "/straight", 2), &rc);
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
  const std::string out3 = run(command(dir_ + "/bad", 1) + " optim_wrapper.optimizer.momentun=0.9", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out3.find("optim_wrapper.optimizer.momentun"), std::string::npos) << out3;
  EXPECT_FALSE(fs::exists(dir_ + "/bad/epoch_1.pth"));
}

}  // namespace
}  // namespace instseg
