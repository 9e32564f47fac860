// train_from_config: the library's `instseg train` (tools/train.py's Runner)
// on the nuclei config shrunk to two 256 x 256 training images at 128 px and
// one epoch: the work_dir gets the config copy named after the config file,
// the checkpoint and last_checkpoint; a second run into the same work_dir
// resumes from it with resume=True.
#include "instseg/config/build_training.h"
#include "instseg/config/overrides.h"
#include "instseg/core/check.h"
#include "instseg/core/log.h"

#include "common/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

namespace instseg {
namespace {
namespace fs = std::filesystem;

// Two 256 x 256 images of data/nuclei's train split (the first two in file order).
std::string two_image_subset(const std::string& dir) {
  std::ifstream in(std::string(INSTSEG_SOURCE_DIR) + "/" + "data/nuclei/annotations/train.json");
  const auto train = nlohmann::json::parse(in);
  nlohmann::json sub = {{"images", nlohmann::json::array()},
                        {"annotations", nlohmann::json::array()},
                        {"categories", train["categories"]}};
  std::set<int64_t> keep;
  for (const auto& im : train["images"])
    if (im["width"] == 256 && im["height"] == 256 && keep.size() < 2) {
      keep.insert(im["id"].get<int64_t>());
      sub["images"].push_back(im);
    }
  for (const auto& a : train["annotations"])
    if (keep.count(a["image_id"].get<int64_t>())) sub["annotations"].push_back(a);
  const std::string path = dir + "/train2.json";
  std::ofstream(path) << sub.dump();
  return path;
}

ConfigNode tiny_config(const std::string& ann, const std::string& work_dir) {
  const std::string root = std::string(INSTSEG_SOURCE_DIR) + "/" + "data/nuclei/";
  return load_config_with_overrides(
      std::string(INSTSEG_SOURCE_DIR) + "/" + "configs/solov2/solov2-light_r18_fpn_nuclei.yaml",
      {"work_dir=" + work_dir, "train_dataloader.dataset.data_root=" + root, "train_dataloader.dataset.ann_file=" + ann,
       "train_dataloader.num_workers=0", "train_dataloader.batch_size=1",
       "train_dataloader.dataset.pipeline.2.scales=[[128,128]]", "train_cfg.max_epochs=1",
       "train_cfg.val_interval=0", "param_scheduler.0.end=3", "param_scheduler.1.end=1",
       "default_hooks.checkpoint.interval=1"});
}

TEST(BuildTraining, TrainsIntoTheWorkDirAndResumes) {
  const std::string dir = test::temp_dir("build_training");
  const std::string ann = two_image_subset(dir);
  const std::string wd = dir + "/work";
  TrainRunOptions o;
  o.config_name = "configs/my_nuclei.yaml";  // names the copy in the work_dir
  o.device = "cpu";
  train_from_config(tiny_config(ann, wd), o);
  EXPECT_TRUE(fs::exists(wd + "/my_nuclei.yaml"));
  EXPECT_TRUE(fs::exists(wd + "/epoch_1.pth"));
  std::ifstream lc(wd + "/last_checkpoint");
  std::string last;
  std::getline(lc, last);
  EXPECT_EQ(fs::path(last).filename(), "epoch_1.pth");

  // resume=True without load_from: the work_dir's last_checkpoint, one more epoch.
  ConfigNode more = tiny_config(ann, wd);
  apply_overrides(more, {"resume=True", "train_cfg.max_epochs=2", "param_scheduler.1.end=2"});
  train_from_config(more, o);
  EXPECT_TRUE(fs::exists(wd + "/epoch_2.pth"));
  fs::remove_all(dir);  // checkpoints are large
}

// custom_hooks: mmpretrain's PreciseBNHook runs after the epoch, over the
// training source (2 samples of batch 1: 2 batches), on the 20 BatchNorms of
// the half-width ResNet-18.
TEST(BuildTraining, PreciseBNHookFromCustomHooks) {
  const std::string dir = test::temp_dir("build_training_pbn");
  const std::string ann = two_image_subset(dir);
  const std::string wd = dir + "/work";
  TrainRunOptions o;
  o.config_name = "configs/my_nuclei.yaml";
  o.device = "cpu";
  ConfigNode cfg = tiny_config(ann, wd);
  cfg["custom_hooks"] = ConfigNode::parse(R"([{"type": "PreciseBNHook", "num_samples": 2, "interval": 1}])");
  const LogLevel level = log_level();
  set_log_level(LogLevel::info);  // the log file is under test
  train_from_config(cfg, o);
  set_log_level(level);
  std::string log;
  for (const auto& e : fs::recursive_directory_iterator(wd))
    if (e.path().extension() == ".log") {
      std::ifstream in(e.path());
      log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  EXPECT_NE(log.find("PreciseBNHook: epoch 1: running statistics of 20 BatchNorm layers from 2 batches x 1 images"),
            std::string::npos)
      << log;
  fs::remove_all(dir);
}

TEST(BuildTraining, BadWorkDirAndResumePathsAreClearErrors) {
  const std::string dir = test::temp_dir("build_training_err");
  const std::string ann = two_image_subset(dir);
  TrainRunOptions o;
  o.device = "cpu";
  ConfigNode cfg = tiny_config(ann, dir + "/w");
  cfg["work_dir"] = 3;
  EXPECT_THROW(train_from_config(cfg, o), Error);
  ConfigNode missing = tiny_config(ann, dir + "/w2");
  apply_overrides(missing, {"resume=True", "load_from=" + dir + "/nope.pth"});
  try {
    train_from_config(missing, o);
    ADD_FAILURE() << "resume from a missing checkpoint must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/nope.pth' does not exist"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace instseg
