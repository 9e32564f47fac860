#include "instseg/config/overrides.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

#include <cmath>

#include "common/test_util.h"

namespace instseg {
namespace {

using test::error_of;

using test::J;

TEST(Overrides, ValueKindsLikeDictAction) {
  EXPECT_EQ(parse_override_value("101"), ConfigNode(101));
  EXPECT_TRUE(parse_override_value("101").is_number_integer());
  EXPECT_EQ(parse_override_value("-3"), ConfigNode(-3));
  EXPECT_EQ(parse_override_value("+7"), ConfigNode(7));
  EXPECT_EQ(parse_override_value("1_000"), ConfigNode(1000));
  EXPECT_EQ(parse_override_value("007"), ConfigNode(7));  // Python int('007') == 7
  EXPECT_TRUE(parse_override_value("0.02").is_number_float());
  EXPECT_DOUBLE_EQ(parse_override_value("0.02").get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(parse_override_value("1e-4").get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(parse_override_value(".5").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(parse_override_value("2.").get<double>(), 2.0);
  EXPECT_TRUE(parse_override_value("2.").is_number_float());
  EXPECT_TRUE(std::isinf(parse_override_value("-inf").get<double>()));
  EXPECT_TRUE(std::isnan(parse_override_value("nan").get<double>()));
  EXPECT_EQ(parse_override_value("true"), ConfigNode(true));
  EXPECT_EQ(parse_override_value("True"), ConfigNode(true));
  EXPECT_EQ(parse_override_value("FALSE"), ConfigNode(false));
  EXPECT_TRUE(parse_override_value("None").is_null());
  EXPECT_EQ(parse_override_value("none"), ConfigNode("none"));  // only 'None' is None
  EXPECT_EQ(parse_override_value("some_text"), ConfigNode("some_text"));
  EXPECT_EQ(parse_override_value("'quoted'"), ConfigNode("quoted"));
  EXPECT_EQ(parse_override_value("\"12\""), ConfigNode(12));  // quotes are stripped first, as in mmengine
  EXPECT_EQ(parse_override_value("a b"), ConfigNode("ab"));   // spaces removed, as in mmengine
  EXPECT_EQ(parse_override_value(""), ConfigNode(""));
  EXPECT_EQ(parse_override_value("1e"), ConfigNode("1e"));
}

TEST(Overrides, ListsAndTuples) {
  EXPECT_EQ(parse_override_value("[1,2]"), J("[1, 2]"));
  EXPECT_EQ(parse_override_value("(1,2)"), J("[1, 2]"));
  EXPECT_EQ(parse_override_value("1,2,3"), J("[1, 2, 3]"));
  EXPECT_EQ(parse_override_value("[a, b, c]"), J(R"(["a", "b", "c"])"));
  EXPECT_EQ(parse_override_value("[(1, 2, 3), [a, b], c]"), J(R"([[1, 2, 3], ["a", "b"], "c"])"));
  EXPECT_EQ(parse_override_value("\"[(1333,800),(1333,640)]\""), J("[[1333, 800], [1333, 640]]"));
  EXPECT_EQ(parse_override_value("[]"), J("[]"));
  EXPECT_EQ(parse_override_value("[0.5,true,None,x]"), J(R"([0.5, true, null, "x"])"));
  EXPECT_EQ(parse_override_value("[1]"), J("[1]"));
  // Balanced counts but no top-level comma: a string (mmengine recurses forever).
  EXPECT_EQ(parse_override_value("[(1,2],3)"), ConfigNode("[(1,2],3)"));
  std::string e;
  e = error_of([] { parse_override_value("[(1,2,3]"); });
  EXPECT_NE(e.find("imbalanced brackets"), std::string::npos) << e;
}

TEST(Overrides, ApplyPaths) {
  ConfigNode cfg = J(R"({
    "model": {"backbone": {"depth": 50}, "test_cfg": {"score_thr": 0.1}, "train_cfg": null,
              "roi_head": {"bbox_head": [{"num_classes": 80}, {"num_classes": 80}]}},
    "optim_wrapper": {"optimizer": {"lr": 0.01}},
    "train_dataloader": {"batch_size": 2}})");
  apply_overrides(cfg, {"model.backbone.depth=101", "optim_wrapper.optimizer.lr=0.02",
                        "train_dataloader.batch_size=4", "model.test_cfg.score_thr=0.3", "a.b=[1,2]",
                        "a.c=(1,2)", "x.y=true", "x.z=None", "s=some_text",
                        "model.roi_head.bbox_head.1.num_classes=3", "model.train_cfg.assigner.type=X",
                        "model.roi_head.bbox_head.0=None"});
  EXPECT_EQ(cfg["model"]["backbone"]["depth"], 101);
  EXPECT_DOUBLE_EQ(cfg["optim_wrapper"]["optimizer"]["lr"].get<double>(), 0.02);
  EXPECT_EQ(cfg["train_dataloader"]["batch_size"], 4);
  EXPECT_DOUBLE_EQ(cfg["model"]["test_cfg"]["score_thr"].get<double>(), 0.3);
  EXPECT_EQ(cfg["a"], J(R"({"b": [1, 2], "c": [1, 2]})"));
  EXPECT_EQ(cfg["x"], J(R"({"y": true, "z": null})"));
  EXPECT_EQ(cfg["s"], "some_text");
  EXPECT_EQ(cfg["model"]["roi_head"]["bbox_head"], J(R"([null, {"num_classes": 3}])"));
  EXPECT_EQ(cfg["model"]["train_cfg"], J(R"({"assigner": {"type": "X"}})"));
  // The last component replaces whole values, dicts included.
  apply_override(cfg, "model.backbone", ConfigNode(5));
  EXPECT_EQ(cfg["model"]["backbone"], 5);
}

TEST(Overrides, Errors) {
  ConfigNode cfg = J(R"({"a": {"n": 1, "l": [1, 2]}})");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"a.n"}); }),
            "config: --cfg-options: 'a.n' is not of the form key=value");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"=1"}); }), "config: --cfg-options: '=1' has an empty key");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"a..b=1"}); }),
            "config: --cfg-options: bad key 'a..b' (empty path component)");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"a.n.x=1"}); }),
            "config: --cfg-options a.n.x: 'a.n' is a int, not a dict or list");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"a.l.5=1"}); }),
            "config: --cfg-options a.l.5: index 5 is out of range for 'a.l' (a list of 2)");
  EXPECT_EQ(error_of([&] { apply_overrides(cfg, {"a.l.x=1"}); }),
            "config: --cfg-options a.l.x: 'a.l' is a list; 'x' is not an index");
  // '=' inside the value is kept.
  apply_overrides(cfg, {"a.s=x=y"});
  EXPECT_EQ(cfg["a"]["s"], "x=y");
}

TEST(Overrides, LoadConfigWithOverrides) {
  ConfigNode c = load_config_with_overrides(test::data_path("config/child.yaml"),
                                            {"model.backbone.depth=34", "param_scheduler.0.milestones=[2,3]"});
  EXPECT_EQ(c["model"]["backbone"]["depth"], 34);
  EXPECT_EQ(c["model"]["backbone"]["base_channels"], 16);
  EXPECT_EQ(c["param_scheduler"][0]["milestones"], J("[2, 3]"));
}

// `--cfg-options train_cgf.max_epochs=1` used to log an INFO line and train
// 45 epochs with the file's train_cfg.
TEST(Overrides, UnknownTopLevelKeyIsAnErrorWithDidYouMean) {
  const std::string cfg = test::data_path("config/child.yaml");
  EXPECT_EQ(error_of([&] { load_config_with_overrides(cfg, {"train_cgf.max_epochs=1"}); }),
            "config: --cfg-options train_cgf.max_epochs=1: unknown top-level key 'train_cgf' (did you mean "
            "'train_cfg'?)");
  EXPECT_EQ(error_of([&] { load_config_with_overrides(cfg, {"modle.backbone.depth=50"}); }),
            "config: --cfg-options modle.backbone.depth=50: unknown top-level key 'modle' (did you mean 'model'?)");
  EXPECT_NE(error_of([&] { load_config_with_overrides(cfg, {"zzz=1"}); }).find("unknown top-level key 'zzz'"),
            std::string::npos);
  // Sections instseg reads (even when the file lacks them), mmengine sections
  // it ignores, and keys of the file are all fine.
  EXPECT_EQ(error_of([&] {
              load_config_with_overrides(cfg, {"work_dir=x", "randomness.seed=3", "visualizer.type=X",
                                               "custom_hooks=[]", "model.backbone.depth=50"});
            }),
            "");
}

}  // namespace
}  // namespace instseg
