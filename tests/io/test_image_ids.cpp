#include "instseg/io/image_ids.h"

#include <gtest/gtest.h>

#include "instseg/core/check.h"

namespace instseg {
namespace {

CocoFile gt_with(const std::vector<std::pair<int64_t, std::string>>& images) {
  CocoFile f;
  f.path = "gt.json";
  for (const auto& [id, name] : images) {
    CocoImage im;
    im.id = id;
    im.file_name = name;
    im.width = im.height = 8;
    f.images.push_back(im);
  }
  return f;
}

// predict numbered images 0, 1, ... in input order: its results.json could not
// be evaluated against the COCO file the images came from.
TEST(ImageIds, FilesMapToTheirCocoIds) {
  const CocoFile gt = gt_with({{139, "000000000139.jpg"}, {285, "000000000285.jpg"}, {7, "val/a.png"}});
  EXPECT_EQ(image_ids_for_files(gt, {"/data/coco/000000000285.jpg", "000000000139.jpg", "imgs/val/a.png"}),
            (std::vector<int64_t>{285, 139, 7}));
}

TEST(ImageIds, LongestFileNameWins) {
  const CocoFile gt = gt_with({{1, "a.png"}, {2, "val/a.png"}, {3, "train/a.png"}});
  EXPECT_EQ(image_ids_for_files(gt, {"x/val/a.png", "x/train/a.png", "x/test/a.png"}),
            (std::vector<int64_t>{2, 3, 1}));
}

TEST(ImageIds, UnknownAndAmbiguousFilesAreErrors) {
  const CocoFile gt = gt_with({{1, "a.png"}, {2, "a.png"}, {3, "b.png"}});
  try {
    image_ids_for_files(gt, {"b.png", "dir/c.png", "ab.png"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gt.json: 2 of 3 input images are not among its 3 images"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("dir/c.png, ab.png"), std::string::npos) << e.what();
  }
  try {
    image_ids_for_files(gt, {"x/a.png"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x/a.png matches 2 images equally well"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace instseg
