// The CLI as a careless or hostile user meets it (issue 12): bad option
// values, wrong or corrupt checkpoints, odd images, output paths that cannot
// be written, two runs on one work_dir, a full disk and a diverging loss.
// Each case used to crash, hang, lose results or carry on silently.
#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/config/build_model.h"
#include "instseg/config/config_tree.h"
#include "instseg/engine/work_dir_lock.h"
#include "instseg/io/coco_json.h"
#include "instseg/io/results_json.h"

namespace instseg {
namespace {
namespace fs = std::filesystem;

using test::lines_with;

size_t temp_files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

// The work_dir's text log (<timestamp>/<timestamp>.log).
std::string work_dir_log(const std::string& wd) {
  for (const auto& e : fs::recursive_directory_iterator(wd))
    if (e.path().extension() == ".log") return test::read_bytes(e.path());
  return "";
}

class CliRobustnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("cli_robust");
    config_ = test::source_path("configs/solov2/solov2-light_r18_fpn_nuclei.yaml");
    torch::manual_seed(0);
    auto model = build_model(model_spec_from(load_config(config_)));
    const TensorDict sd = module_state_dict(*model);
    ckpt_ = dir_ + "/random.pth";
    save_checkpoint(ckpt_, PyValue::dict(), sd);
    // The same weights with one NaN (a diverged run's checkpoint).
    TensorDict nan = sd;
    {
      torch::NoGradGuard ng;
      at::Tensor w = sd.at("mask_head.conv_cls.weight").clone();
      w.view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
      nan.set("mask_head.conv_cls.weight", w);
    }
    nan_ckpt_ = dir_ + "/nan.pth";
    save_checkpoint(nan_ckpt_, PyValue::dict(), nan);
    // Weights of a model with 3 classes.
    TensorDict other = sd;
    other.set("mask_head.conv_cls.weight", at::zeros({3, 64, 3, 3}));
    other.set("mask_head.conv_cls.bias", at::zeros({3}));
    other_ckpt_ = dir_ + "/three_classes.pth";
    save_checkpoint(other_ckpt_, PyValue::dict(), other);
    ann_ = test::write_small_nuclei_subset(dir_, 2);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string cli() { return test::instseg_binary() + " --threads 2 "; }
  static std::string train_cmd(const std::string& wd, int epochs, const std::string& cfg_options = "") {
    return test::instseg_binary() + " --threads 2 " + test::tiny_train_args(ann_, wd, epochs) +
           " train_cfg.val_interval=0 " + cfg_options;
  }

  static std::string dir_, config_, ckpt_, nan_ckpt_, other_ckpt_, ann_;
};
std::string CliRobustnessTest::dir_, CliRobustnessTest::config_, CliRobustnessTest::ckpt_,
    CliRobustnessTest::nan_ckpt_, CliRobustnessTest::other_ckpt_, CliRobustnessTest::ann_;

// `--threads -1` printed "Value -1 not in range 0.000000 to 1797693..." (300
// digits); `--threads 100000` hung starting 100000 OpenMP threads.
TEST_F(CliRobustnessTest, ThreadCountsArePlainAndCapped) {
  int rc = -1;
  std::string out = test::run_command(test::instseg_binary() + " --threads -1 inspect " + ckpt_, &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("expected 0 (auto, the default) or a positive number of threads, got '-1'"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("1797693"), std::string::npos) << out;
  out = test::run_command("timeout 60 " + test::instseg_binary() + " --threads 100000 inspect " + ckpt_, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("--threads asks for 100000 threads; using "), std::string::npos) << out;
}

// "instseg train CFG ... --threads 2" said "arguments were not expected".
TEST_F(CliRobustnessTest, GlobalOptionsAfterTheSubcommand) {
  int rc = -1;
  const std::string out = test::run_command(test::instseg_binary() + " inspect " + ckpt_ + " --threads 1 --log-level warning", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mask_head.conv_cls.weight"), std::string::npos) << out;
  EXPECT_EQ(out.find("INFO"), std::string::npos) << "--log-level after the subcommand was ignored:\n" << out;
}

// `test --out /nope/dir/res.json` failed only after the whole inference.
TEST_F(CliRobustnessTest, OutputPathsAreCheckedBeforeTheWork) {
  int rc = -1;
  const std::string out = test::run_command(cli() + "test " + config_ + " " + ckpt_ + " --out /nonexistent_instseg/dir/res.json", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--out /nonexistent_instseg/dir/res.json: directory /nonexistent_instseg/dir does not exist"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("tensors loaded"), std::string::npos) << "the model was loaded first:\n" << out;
}

// Weights with NaN: predict printed 0 instances and exited 0.
TEST_F(CliRobustnessTest, NonFiniteWeightsAreRefused) {
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + nan_ckpt_ + " " +
                                  test::source_path("data/nuclei/images") + " --out-dir " + dir_ + "/pred_nan",
                              &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find(nan_ckpt_ + ": 1 of "), std::string::npos) << out;
  EXPECT_NE(out.find("tensors contain non-finite values (NaN/inf): mask_head.conv_cls.weight"), std::string::npos)
      << out;
}

// A checkpoint of another model: the message named the key only.
TEST_F(CliRobustnessTest, MismatchedCheckpointNamesTheFileAndTheConfig) {
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + other_ckpt_ + " " +
                                  test::source_path("data/nuclei/images") + " --out-dir " + dir_ + "/pred_other",
                              &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find(other_ckpt_ + ": does not fit the SOLOv2 model of " + config_ +
                     ": shape-mismatched 2 keys: mask_head.conv_cls.weight: checkpoint [3, 64, 3, 3] vs model "
                     "[1, 64, 3, 3]"),
            std::string::npos)
      << out;
}

// A 1 x 4000 image aborted the run ("resize: bad target size 1333x0", no file named).
TEST_F(CliRobustnessTest, ExtremeAspectRatioImagesArePredicted) {
  const std::string imgs = dir_ + "/thin";
  fs::create_directories(imgs);
  cv::Mat tall(4000, 1, CV_8UC3, cv::Scalar(40, 80, 120)), wide(1, 4000, CV_8UC3, cv::Scalar(40, 80, 120));
  ASSERT_TRUE(cv::imwrite(imgs + "/tall.png", tall));
  ASSERT_TRUE(cv::imwrite(imgs + "/wide.png", wide));
  int rc = -1;
  const std::string out_dir = dir_ + "/pred_thin";
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + imgs + " --out-dir " + out_dir, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(fs::exists(out_dir + "/results.json")) << out;
}

// Two nuclei images of the training subset, copied into `dir` (returns their paths).
std::vector<std::string> copy_subset_images(const std::string& ann, const std::string& dir) {
  fs::create_directories(dir);
  std::vector<std::string> out;
  for (const auto& im : load_coco_json(ann).images) {
    const std::string dst = dir + "/" + im.file_name;
    fs::copy_file(test::source_path("data/nuclei/images/" + im.file_name), dst, fs::copy_options::overwrite_existing);
    out.push_back(dst);
  }
  return out;
}

// One unreadable image aborted the whole run and no results.json was
// written; the results were held in memory until the end. Now each image's
// results are on disk once it is done, bad images are skipped (the default
// for directories) and listed in images.json with their error.
TEST_F(CliRobustnessTest, PredictSkipsUnreadableImagesAndStreamsResults) {
  const std::string imgs = dir_ + "/with_bad";
  const std::vector<std::string> good = copy_subset_images(ann_, imgs);
  std::ofstream(imgs + "/broken.png", std::ios::binary) << "\x89PNG\r\n\x1a\nnot really a png";
  const std::string out_dir = dir_ + "/pred_bad";
  int rc = -1;
  std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + imgs + " --no-overlays --score-thr 0 --out-dir " + out_dir, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("predict: skipping " + imgs + "/broken.png: " + imgs + "/broken.png: cannot decode image"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("predict: 2 images, "), std::string::npos) << out;
  EXPECT_NE(out.find(", 1 skipped; wrote"), std::string::npos) << out;
  const nlohmann::json images = nlohmann::json::parse(test::read_bytes(out_dir + "/images.json"));
  ASSERT_EQ(images.size(), 3u) << images.dump();
  size_t errors = 0;
  for (const auto& im : images) errors += im.contains("error");
  EXPECT_EQ(errors, 1u) << images.dump();
  EXPECT_NO_THROW(load_results_json(out_dir + "/results.json"));

  // Asked to stop at the first bad image: an error naming it, and the images
  // before it are kept in a valid results.json.
  out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + good[0] + " " + imgs + "/broken.png " + good[1] +
                " --no-overlays --no-skip-bad-images --out-dir " + out_dir + "_stop",
            &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find(imgs + "/broken.png: cannot decode image"), std::string::npos) << out;
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(out_dir + "_stop/images.json")).size(), 1u);
  EXPECT_NO_THROW(load_results_json(out_dir + "_stop/results.json"));
}

// Two predict runs into one --out-dir: the second one's results were lost.
TEST_F(CliRobustnessTest, SecondPredictIntoTheSameOutDirIsRefused) {
  const std::string out_dir = dir_ + "/pred_locked";
  auto held = WorkDirLock::acquire(out_dir, "--out-dir");  // as a running predict holds it
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + test::source_path("data/nuclei/images") +
                                  " --out-dir " + out_dir,
                              &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--out-dir " + out_dir + " is in use by another instseg run (pid " + std::to_string(::getpid())),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("tensors loaded"), std::string::npos) << "refused only after loading the model:\n" << out;
}

// predict numbered the images 0, 1, ... in input order: its results could
// not be evaluated against the annotation file the images belong to.
TEST_F(CliRobustnessTest, PredictWithAnnUsesItsImageIds) {
  const CocoFile gt = load_coco_json(ann_);
  std::string inputs;
  std::set<int64_t> gt_ids;
  for (const auto& im : gt.images) {
    inputs += " " + test::source_path("data/nuclei/images/" + im.file_name);
    gt_ids.insert(im.id);
  }
  const std::string out_dir = dir_ + "/pred_ann";
  int rc = -1;
  // Random weights score about 0.01: keep every candidate so that there is something to evaluate.
  std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + inputs + " --no-overlays --score-thr 0 --ann " + ann_ +
                            " --out-dir " + out_dir + " --cfg-options model.test_cfg.score_thr=0",
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  std::set<int64_t> listed;
  for (const auto& im : nlohmann::json::parse(test::read_bytes(out_dir + "/images.json"))) listed.insert(im["id"].get<int64_t>());
  EXPECT_EQ(listed, gt_ids);
  const std::vector<CocoResult> res = load_results_json(out_dir + "/results.json");
  // TODO(issue 12): random weights give no masks here, so this check is vacuous; use a trained checkpoint.
  for (const auto& r : res) EXPECT_TRUE(gt_ids.count(r.image_id)) << r.image_id;
  if (!res.empty()) {
    out = test::run_command(cli() + "eval --ann " + ann_ + " --results " + out_dir + "/results.json", &rc);
    EXPECT_EQ(rc, 0) << out;
  }

  // An image that is not in the annotation file: refused before the model runs.
  const std::string stray = dir_ + "/stray.png";
  ASSERT_TRUE(cv::imwrite(stray, cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3))));
  out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + inputs + " " + stray + " --ann " + ann_ +
                " --out-dir " + out_dir + "_bad",
            &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find(ann_ + ": 1 of 3 input images are not among its 2 images"), std::string::npos) << out;
}

// Two `train` runs on one work_dir interleaved their checkpoints and logs.
TEST_F(CliRobustnessTest, SecondTrainOnTheSameWorkDirIsRefused) {
  const std::string wd = dir_ + "/locked";
  const std::string first_log = dir_ + "/first.log";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = "exec " + train_cmd(wd, 100) + " > " + first_log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // The first run dumps its config into the work_dir once it holds the lock.
  const auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(wd + "/solov2-light_r18_fpn_nuclei.yaml") &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int rc = -1;
  const std::string out = test::run_command(train_cmd(wd, 1), &rc);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("work_dir " + wd + " is in use by another instseg run (pid " + std::to_string(pid) + " host "),
            std::string::npos)
      << out << "\nfirst run:\n" << test::read_bytes(first_log);
}

// Disk full while writing a checkpoint: SIGABRT (terminate in LibTorch's zip
// writer), a 23 MB temporary left behind. Now: exit 1 with "no space left on
// device writing <file>", no temporary, the previous checkpoint loadable, and
// the work_dir log holds what the console showed before training started.
TEST_F(CliRobustnessTest, DiskFullDuringACheckpointIsAClearError) {
  const std::string wd = dir_ + "/diskfull";
  int rc = -1;
  const std::string out1 = test::run_command(train_cmd(wd, 1), &rc);
  ASSERT_EQ(rc, 0) << out1;
  ASSERT_TRUE(fs::exists(wd + "/epoch_1.pth"));
  // Early lines (config notices, the dumped config, the dataset) are in the file log too.
  const std::string log1 = work_dir_log(wd);
  for (const char* early : {"train: config written to", "images, 1 classes", "train: seed "})
    EXPECT_NE(log1.find(early), std::string::npos) << "missing '" << early << "' in the work_dir log:\n" << log1;

  // Continue to epoch 2 with writes failing after 100 kB (ENOSPC).
  const std::string out2 = test::run_command("INSTSEG_TEST_WRITE_FAIL_AFTER=100000 " + train_cmd(wd, 2) + " resume=True", &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << "status " << rc << "\n" << out2;
  EXPECT_NE(out2.find("no space left on device writing " + wd + "/epoch_2.pth"), std::string::npos) << out2;
  EXPECT_EQ(out2.find("terminate called"), std::string::npos) << out2;
  EXPECT_EQ(temp_files_in(wd), 0u);
  EXPECT_FALSE(fs::exists(wd + "/epoch_2.pth"));
  EXPECT_EQ(fs::path(test::read_bytes(wd + "/last_checkpoint")).filename(), "epoch_1.pth");
  EXPECT_NO_THROW(read_pth(wd + "/epoch_1.pth"));
}

// The reproduction: the work_dir on a small tmpfs (root only).
TEST_F(CliRobustnessTest, DiskFullOnASmallFileSystem) {
  test::SmallTmpfs small("40m");  // epoch_1.pth (26 MB with the optimizer state) fits, epoch_2.pth does not
  if (!small.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (not root?); DiskFullDuringACheckpointIsAClearError "
                                   "covers the same path with an injected failure";
  const std::string wd = small.dir() + "/work";
  int rc = -1;
  const std::string out = test::run_command(train_cmd(wd, 2), &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << "status " << rc << "\n" << out;
  EXPECT_NE(out.find("no space left on device writing " + wd + "/epoch_2.pth"), std::string::npos) << out;
  EXPECT_EQ(temp_files_in(wd), 0u);
  EXPECT_NO_THROW(read_pth(wd + "/epoch_1.pth"));
  EXPECT_EQ(fs::path(test::read_bytes(wd + "/last_checkpoint")).filename(), "epoch_1.pth");
}

// A 0 in data_preprocessor.std (or optimizer.lr=1e6): trained on with
// "loss: -nan", exit 0, NaN checkpoints.
TEST_F(CliRobustnessTest, NonFiniteLossesStopTrainingWithAClearError) {
  const std::string wd = dir_ + "/diverge";
  int rc = -1;
  const std::string out =
      test::run_command(train_cmd(wd, 4, "model.data_preprocessor.std=[0,0,0] train_cfg.max_consecutive_nonfinite=3"), &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_FALSE(lines_with(out, "non-finite loss at iteration ").empty()) << out;
  EXPECT_NE(out.find("the loss was non-finite for 3 iterations in a row"), std::string::npos) << out;
  for (const auto& e : fs::directory_iterator(wd)) {
    if (e.path().extension() == ".pth") {
      EXPECT_TRUE(nonfinite_tensors(load_state_dict(e.path().string())).empty()) << e.path();
    }
  }
}

}  // namespace
}  // namespace instseg
