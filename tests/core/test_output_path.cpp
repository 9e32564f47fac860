// Output paths are checked before the work that fills them.
#include "instseg/core/output_path.h"
#include "instseg/core/check.h"

#include "common/test_util.h"
#include "common/error_of.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>

namespace instseg {
namespace {

}  // namespace

TEST(OutputPath, FileInAMissingDirectoryIsAnError) {
  const std::string err = test::error_message_of([] { check_output_file("/nonexistent_instseg_dir/x/res.json", "--out"); });
  EXPECT_EQ(err, "--out /nonexistent_instseg_dir/x/res.json: directory /nonexistent_instseg_dir/x does not exist");
}

TEST(OutputPath, WritableFilesPassAndNothingIsCreated) {
  const std::string dir = test::temp_dir("outpath");
  EXPECT_EQ(test::error_message_of([&] { check_output_file(dir + "/res.json", "--out"); }), "");
  EXPECT_FALSE(std::filesystem::exists(dir + "/res.json"));
  std::ofstream(dir + "/old.json") << "[]";
  EXPECT_EQ(test::error_message_of([&] { check_output_file(dir + "/old.json", "--out"); }), "");
  EXPECT_NE(test::error_message_of([&] { check_output_file(dir, "--out"); }).find("is a directory"), std::string::npos);
  EXPECT_EQ(test::error_message_of([] { check_output_file("", "--out"); }), "");
}

TEST(OutputPath, DirectoriesAreCreated) {
  const std::string dir = test::temp_dir("outdir") + "/a/b";
  EXPECT_EQ(test::error_message_of([&] { check_output_dir(dir, "--show-dir"); }), "");
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  const std::string file = test::temp_dir("outdir2") + "/f";
  std::ofstream(file) << "x";
  EXPECT_NE(test::error_message_of([&] { check_output_dir(file + "/sub", "--out-dir"); }).find("cannot create"), std::string::npos);
}

}  // namespace instseg
