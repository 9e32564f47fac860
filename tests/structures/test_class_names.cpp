// COCO's class names (checked against the categories of a COCO 2017 file when
// ../shared is present) and the default-name rule.
#include "instseg/structures/class_names.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "common/test_util.h"

namespace instseg {
namespace {

TEST(ClassNames, CocoNamesInLabelOrder) {
  const auto& n = coco_class_names();
  ASSERT_EQ(n.size(), 80u);
  EXPECT_EQ(n[0], "person");
  EXPECT_EQ(n[9], "traffic light");
  EXPECT_EQ(n[79], "toothbrush");
}

TEST(ClassNames, CocoNamesEqualCoco2017Categories) {
  INSTSEG_REQUIRE_SHARED();
  std::ifstream f(test::shared_path("data/coco128/instances.json"));
  ASSERT_TRUE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  std::vector<std::pair<int64_t, std::string>> cats;
  for (const auto& c : j.at("categories")) cats.emplace_back(c.at("id").get<int64_t>(), c.at("name").get<std::string>());
  std::sort(cats.begin(), cats.end());
  ASSERT_EQ(cats.size(), 80u);
  for (size_t i = 0; i < cats.size(); ++i) EXPECT_EQ(coco_class_names()[i], cats[i].second) << "label " << i;
}

TEST(ClassNames, Defaults) {
  EXPECT_EQ(default_class_names(80), coco_class_names());
  EXPECT_EQ(default_class_names(3), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_TRUE(default_class_names(0).empty());
  EXPECT_THROW(default_class_names(-1), c10::Error);
}

}  // namespace
}  // namespace instseg
