#include "instseg/config/top_level.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/test_util.h"
#include "instseg/core/log.h"

namespace instseg {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TopLevel, IgnoredSectionsGetOneNotice) {
  ConfigNode c = ConfigNode::parse(R"({"model": {}, "default_hooks": {}, "train_cfg": {}, "visualizer": {},
    "custom_hooks": [], "num_stages": 6, "pretty_text": "x", "vis_backends": []})");
  auto dir = test::temp_dir("cfg_top");
  set_log_file(dir + "/log.txt");
  auto old = log_level();
  set_log_level(LogLevel::info);
  auto ignored = check_top_level(c);
  auto none = check_top_level(ConfigNode::parse(R"({"model": {}, "optim_wrapper": {}})"));
  set_log_level(old);
  set_log_file("");
  EXPECT_EQ(ignored, (std::vector<std::string>{"visualizer", "vis_backends"}));
  EXPECT_TRUE(none.empty());
  std::string log = read_all(dir + "/log.txt");
  EXPECT_NE(log.find("config: ignoring top-level sections instseg does not use: visualizer, vis_backends\n"),
            std::string::npos)
      << log;
  // Exactly one line.
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST(TopLevel, FixturePrettyTextNamesOnlyKnownOrIgnorableSections) {
  // The fixtures' mmengine configs (see pretty_text) use these top-level names;
  // the ones instseg reads must be classified as used.
  for (const char* k : {"model", "train_cfg", "val_cfg", "test_cfg", "optim_wrapper", "param_scheduler",
                        "train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "test_evaluator",
                        "train_pipeline", "test_pipeline", "auto_scale_lr", "load_from", "resume", "num_stages",
                        "num_proposals", "default_hooks", "custom_hooks"})
    EXPECT_TRUE(is_used_top_level_key(k)) << k;
  for (const char* k : {"log_processor", "visualizer", "vis_backends"})
    EXPECT_FALSE(is_used_top_level_key(k)) << k;
  EXPECT_THROW(check_top_level(ConfigNode::array()), Error);
}

}  // namespace
}  // namespace instseg
