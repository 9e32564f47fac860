#include "instseg/core/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_util.h"

namespace instseg {

TEST(Log, FileSinkGetsTimestampedLevelLines) {
  auto dir = test::temp_dir("log");
  auto path = dir + "/x.log";
  set_log_file(path);
  auto old = log_level();
  set_log_level(LogLevel::info);
  log_info("hello ", 42);
  log_debug("hidden");
  set_log_level(old);
  set_log_file("");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  EXPECT_NE(text.find(" - instseg - INFO - hello 42\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  // "YYYY/MM/DD HH:MM:SS" prefix
  ASSERT_GE(text.size(), 19u);
  EXPECT_EQ(text[4], '/');
  EXPECT_EQ(text[13], ':');
}

TEST(Log, NonZeroRankPrintsOnlyWarnings) {
  auto dir = test::temp_dir("logrank");
  auto path = dir + "/x.log";
  set_log_file(path);
  auto old = log_level();
  set_log_level(LogLevel::info);
  set_log_rank(1);
  log_info("info from rank 1");
  log_warning("warn from rank 1");
  set_log_rank(0);
  set_log_level(old);
  set_log_file("");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str().find("info from rank 1"), std::string::npos);
  EXPECT_NE(ss.str().find("WARNING - [rank 1] warn from rank 1"), std::string::npos);
}

TEST(Log, FailThrowsWithJoinedMessage) {
  try {
    fail("file.json: ", "field 'x': ", 3);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "file.json: field 'x': 3");
  }
}

}  // namespace instseg
