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

// The CLI opens the work_dir log only once the trainer starts: what was
// logged before (config notices, dataset warnings) must still reach it.
TEST(Log, LinesBeforeTheLogFileOpensAreWrittenToIt) {
  auto dir = test::temp_dir("log_buffer");
  auto path = dir + "/late.log";
  const LogLevel old = log_level();
  set_log_level(LogLevel::info);
  start_log_buffer();
  log_warning("early warning about annotations");
  log_error("early error");
  set_log_file(path);
  log_info("after the file opened");
  set_log_file("");
  log_warning("after it closed: not buffered any more");
  set_log_file(dir + "/second.log");
  set_log_file("");
  set_log_level(old);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t a = text.find("WARNING - early warning about annotations");
  const size_t b = text.find("ERROR - early error");
  const size_t c = text.find("INFO - after the file opened");
  ASSERT_NE(a, std::string::npos) << text;
  ASSERT_NE(b, std::string::npos) << text;
  ASSERT_NE(c, std::string::npos) << text;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  std::ifstream in2(dir + "/second.log");
  std::stringstream ss2;
  ss2 << in2.rdbuf();
  EXPECT_EQ(ss2.str(), "");
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
