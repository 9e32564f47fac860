#include "instseg/config/config_reader.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

namespace instseg {
namespace {

using test::error_of;

using test::J;

TEST(ConfigReader, TypedGetsDefaultsAndOptionals) {
  ConfigNode n = J(R"({"type": "ResNet", "depth": 18, "strides": [1, 2], "lr": 1, "name": "x", "flag": true,
                       "ranges": [[1, 96], [48, 192]], "none": null, "big": 5000000000})");
  ConfigReader r(n, "model.backbone");
  EXPECT_EQ(r.type(), "ResNet");
  EXPECT_EQ(r.get<int>("depth"), 18);
  EXPECT_EQ(r.get<int>("missing", 7), 7);
  EXPECT_EQ(r.get<std::vector<int64_t>>("strides", {9}), (std::vector<int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(r.get<double>("lr"), 1.0);  // an int is a valid number
  EXPECT_EQ(r.get<std::string>("name"), "x");
  EXPECT_TRUE(r.get<bool>("flag"));
  EXPECT_EQ(r.get<std::vector<std::vector<int64_t>>>("ranges"),
            (std::vector<std::vector<int64_t>>{{1, 96}, {48, 192}}));
  EXPECT_FALSE(r.get_optional<int>("none").has_value());
  EXPECT_FALSE(r.get_optional<int>("absent").has_value());
  EXPECT_EQ(r.get<int64_t>("big"), 5000000000LL);
  EXPECT_TRUE(r.has("none"));
  EXPECT_FALSE(r.has_value("none"));
  EXPECT_EQ(r.keys().front(), "type");
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, UnknownKeyNamesPathAndClosestKnownKey) {
  ConfigNode n = J(R"({"type": "ResNet", "depth": 18, "frozen_stage": 1})");
  ConfigReader r(n, "model.backbone");
  r.type();
  r.get<int>("depth", 50);
  r.get<int>("frozen_stages", -1);
  r.get<int>("num_stages", 4);
  EXPECT_EQ(error_of([&] { r.finish(); }),
            "config: unknown key 'model.backbone.frozen_stage' (did you mean 'frozen_stages'?)");
}

TEST(ConfigReader, UnknownKeyWithoutCloseMatchListsKnownKeys) {
  ConfigNode n = J(R"({"type": "FPN", "zzz_top": 1, "upsample": {}})");
  ConfigReader r(n, "model.neck");
  r.type();
  r.ignore({"init_cfg", "upsample_cfg"});
  EXPECT_EQ(error_of([&] { r.finish(); }),
            "config: unknown key 'model.neck.zzz_top' (known keys: type, init_cfg, upsample_cfg)\n"
            "config: unknown key 'model.neck.upsample' (did you mean 'upsample_cfg'?)");
}

TEST(ConfigReader, ChildrenAreCheckedByTheParentsFinish) {
  ConfigNode n = J(R"({"norm_cfg": {"type": "BN", "requires_grad": true, "eps": 1e-5},
                       "pipeline": [{"type": "A"}, {"type": "B", "prob": 0.5, "porb": 1}]})");
  ConfigReader r(n, "model.backbone");
  auto norm = r.child("norm_cfg");
  EXPECT_EQ(norm.path(), "model.backbone.norm_cfg");
  norm.type();
  norm.get<bool>("requires_grad", true);
  auto steps = r.children("pipeline");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1].path(), "model.backbone.pipeline.1");
  for (auto& s : steps) {
    s.type();
    s.get<double>("prob", 1.0);
  }
  EXPECT_EQ(error_of([&] { r.finish(); }),
            "config: unknown key 'model.backbone.norm_cfg.eps' (known keys: type, requires_grad)\n"
            "config: unknown key 'model.backbone.pipeline.1.porb' (did you mean 'prob'?)");
}

TEST(ConfigReader, OptionalChild) {
  ConfigNode n = J(R"({"train_cfg": null, "test_cfg": {"score_thr": 0.1}})");
  ConfigReader r(n, "model");
  EXPECT_FALSE(r.child_optional("train_cfg").has_value());
  EXPECT_FALSE(r.child_optional("absent").has_value());
  auto t = r.child_optional("test_cfg");
  ASSERT_TRUE(t.has_value());
  EXPECT_DOUBLE_EQ(t->get<double>("score_thr"), 0.1);
  EXPECT_NO_THROW(r.finish());
}

TEST(ConfigReader, TypeErrorsNamePathAndExpectedType) {
  ConfigNode n = J(R"({"depth": "18", "ratio": 2.5, "flag": 1, "strides": [1, "2"], "none": null, "d": 3,
                       "type": "ResNeXt", "small": 3000000000})");
  ConfigReader r(n, "model.backbone");
  EXPECT_EQ(error_of([&] { r.get<int>("depth"); }),
            "config: model.backbone.depth: expected an integer, got string '18'");
  EXPECT_EQ(error_of([&] { r.get<int>("ratio"); }),
            "config: model.backbone.ratio: expected an integer, got float 2.5");
  EXPECT_EQ(error_of([&] { r.get<bool>("flag"); }), "config: model.backbone.flag: expected true or false, got integer 1");
  EXPECT_EQ(error_of([&] { r.get<std::vector<int>>("strides"); }),
            "config: model.backbone.strides.1: expected an integer, got string '2'");
  EXPECT_EQ(error_of([&] { r.get<int>("none", 3); }), "config: model.backbone.none: expected an integer, got null");
  EXPECT_EQ(error_of([&] { r.get<std::string>("d"); }), "config: model.backbone.d: expected a string, got integer 3");
  EXPECT_EQ(error_of([&] { r.child("d"); }), "config: model.backbone.d: expected a dict, got integer 3");
  EXPECT_EQ(error_of([&] { r.get<int>("absent"); }), "config: model.backbone: missing required key 'absent'");
  EXPECT_EQ(error_of([&] { r.expect_type({"ResNet"}); }),
            "config: model.backbone.type: unsupported type 'ResNeXt' (supported: ResNet)");
  EXPECT_EQ(error_of([&] { r.get<int>("small"); }),
            "config: model.backbone.small: expected an integer in range, got integer 3000000000");
  EXPECT_EQ(error_of([] { ConfigNode x = J("[1]"); ConfigReader bad(x, "model"); }),
            "config: model: expected a dict, got a list");
}

TEST(ConfigReader, ClosestKey) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_key("depht", {"depth", "style"}), "depth");
  EXPECT_EQ(closest_key("frozen", {"frozen_stages", "depth"}), "frozen_stages");
  EXPECT_EQ(closest_key("out_channel", {"in_channels", "out_channels"}), "out_channels");
  EXPECT_EQ(closest_key("foo", {"depth", "style"}), "");
  EXPECT_EQ(closest_key("x", {}), "");
}

// `num_clases: 3` in place of the required num_classes used to report only
// "missing required key 'num_classes'".
TEST(ConfigReader, MisspeltRequiredKeyIsNamedAsUnknown) {
  ConfigNode n = J(R"({"type": "SOLOV2Head", "num_clases": 3, "in_channels": 256})");
  ConfigReader r(n, "model.mask_head");
  r.get<int>("in_channels");
  EXPECT_EQ(error_of([&] { r.get<int64_t>("num_classes"); }),
            "config: unknown key 'model.mask_head.num_clases' (did you mean 'num_classes'?)\n"
            "config: model.mask_head: missing required key 'num_classes'");
}

}  // namespace
}  // namespace instseg
