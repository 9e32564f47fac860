#include "instseg/config/config_tree.h"

#include <gtest/gtest.h>

#include "config/config_test_util.h"

#include <cmath>
#include <fstream>

#include "common/test_util.h"

namespace instseg {
namespace {

std::string cfg_path(const std::string& name) { return test::data_path("config/" + name); }

// The message of the instseg::Error `fn` throws ("" when it does not throw).
using test::error_of;

TEST(ConfigTree, YamlScalarsResolveLikePyYaml) {
  ConfigNode c = read_config_file(cfg_path("scalars.yaml"));
  EXPECT_EQ(c["ints"], ConfigNode::parse("[0, 7, -3, 12, 1000, 31, 15, 15, 5]"));
  for (const auto& v : c["ints"]) EXPECT_TRUE(v.is_number_integer()) << v;

  const auto& f = c["floats"];
  ASSERT_EQ(f.size(), 7u);
  for (const auto& v : f) EXPECT_TRUE(v.is_number_float()) << v;
  EXPECT_DOUBLE_EQ(f[0].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(f[1].get<double>(), -0.25);
  EXPECT_DOUBLE_EQ(f[2].get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(f[3].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(f[4].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(f[5].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(f[6].get<double>(), 1000.0);
  EXPECT_TRUE(std::isinf(c["infs"][0].get<double>()) && c["infs"][0].get<double>() > 0);
  EXPECT_TRUE(std::isinf(c["infs"][1].get<double>()) && c["infs"][1].get<double>() < 0);
  EXPECT_TRUE(std::isinf(c["infs"][2].get<double>()));
  EXPECT_TRUE(std::isnan(c["nan"].get<double>()));

  EXPECT_EQ(c["bools"], ConfigNode::parse("[true, false, true, false, true, false, true, false]"));
  EXPECT_EQ(c["nulls"], ConfigNode::parse("[null, null, null, null]"));
  EXPECT_TRUE(c.contains("empty_value"));
  EXPECT_TRUE(c["empty_value"].is_null());
  // Quoting keeps strings strings.
  EXPECT_EQ(c["quoted"], ConfigNode::parse(R"(["true", "1", "null", "1e-4", "on"])"));
  EXPECT_EQ(c["strings"],
            ConfigNode::parse(R"(["on_input", "pytorch", "1.2.3", "08", "08", "1e", "abc", "2024-01-01"])"));
  // Explicit tags.
  EXPECT_EQ(c["tagged"][0], ConfigNode("12"));
  EXPECT_TRUE(c["tagged"][1].is_number_float());
  EXPECT_DOUBLE_EQ(c["tagged"][1].get<double>(), 3.0);
  EXPECT_EQ(c["tagged"][2], ConfigNode(7));
  EXPECT_EQ(c["tagged"][3], ConfigNode(true));
  EXPECT_TRUE(c["tagged"][4].is_null());
  // Nested flow / block collections and aliases.
  const auto& lod = c["nested"]["list_of_dicts"];
  EXPECT_EQ(lod[0]["type"], "Resize");
  EXPECT_EQ(lod[0]["scale"], ConfigNode::parse("[1333, 800]"));
  EXPECT_EQ(lod[0]["keep_ratio"], true);
  EXPECT_EQ(lod[1]["prob"], 0.5);
  EXPECT_EQ(c["nested"]["alias"], ConfigNode::parse(R"({"x": 1})"));
}

TEST(ConfigTree, KeepsFileKeyOrder) {
  ConfigNode c = read_config_file(cfg_path("mmengine_dump.yaml"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : c["model"]["backbone"].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"depth", "frozen_stages", "init_cfg", "norm_cfg", "norm_eval",
                                            "num_stages", "out_indices", "style", "type"}));
  ConfigNode j = read_config_file(cfg_path("simple.json"));
  EXPECT_EQ(j.begin().key(), "zeta");  // not sorted
}

TEST(ConfigTree, MmengineYamlDumpTuplesBecomeLists) {
  ConfigNode c = read_config_file(cfg_path("mmengine_dump.yaml"));
  EXPECT_EQ(c["model"]["backbone"]["out_indices"], ConfigNode::parse("[0, 1, 2, 3]"));
  EXPECT_DOUBLE_EQ(c["optim_wrapper"]["optimizer"]["weight_decay"].get<double>(), 1e-4);
}

TEST(ConfigTree, JsonKeepsIntFloatDistinction) {
  ConfigNode c = read_config_file(cfg_path("simple.json"));
  EXPECT_TRUE(c["zeta"].is_number_integer());
  EXPECT_TRUE(c["alpha"]["two"].is_number_float());
  EXPECT_EQ(c["alpha"]["steps"], ConfigNode::parse("[8, 11]"));
  EXPECT_TRUE(c["alpha"]["none"].is_null());
  EXPECT_EQ(c["mid"][2]["k"], "v");
}

TEST(ConfigTree, FileErrorsNameTheFile) {
  EXPECT_NE(error_of([] { read_config_file(cfg_path("nope.yaml")); }).find("cannot open"), std::string::npos);
  auto e = error_of([] { read_config_file(cfg_path("bad_syntax.yaml")); });
  EXPECT_NE(e.find("bad_syntax.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  e = error_of([] { read_config_file(cfg_path("dup_key.yaml")); });
  EXPECT_NE(e.find("duplicate key 'type'"), std::string::npos) << e;
  e = error_of([] { read_config_file("x.py"); });
  EXPECT_NE(e.find("unsupported config file type '.py'"), std::string::npos) << e;
  e = error_of([] { parse_yaml_config("- 1\n- 2\n", "list.yaml"); });
  EXPECT_EQ(e, "config: list.yaml: the top level must be a dict, got a list");
  EXPECT_EQ(parse_yaml_config("", "empty.yaml"), ConfigNode::object());
}

TEST(ConfigBase, MergesBasesChildOverBase) {
  ConfigNode c = load_config(cfg_path("child.yaml"));
  EXPECT_FALSE(c.contains("_base_"));
  const auto& bb = c["model"]["backbone"];
  EXPECT_EQ(bb["depth"], 18);            // child wins
  EXPECT_EQ(bb["base_channels"], 16);    // child adds
  EXPECT_EQ(bb["frozen_stages"], 1);     // base kept
  EXPECT_EQ(bb["norm_cfg"]["type"], "BN");
  EXPECT_EQ(c["model"]["type"], "SOLOv2");
  // _delete_: the neck is the child's dict only, without the _delete_ key.
  EXPECT_EQ(c["model"]["neck"], ConfigNode::parse(
                                    R"({"type": "FPN", "in_channels": [16, 32, 64, 128], "out_channels": 64,
                                        "num_outs": 5})"));
  EXPECT_EQ(c["model"]["test_cfg"]["score_thr"], 0.3);
  EXPECT_EQ(c["model"]["test_cfg"]["nms_pre"], 500);
  // Lists replace; keys from the second (JSON) base are there.
  ASSERT_EQ(c["param_scheduler"].size(), 1u);
  EXPECT_EQ(c["param_scheduler"][0]["milestones"], ConfigNode::parse("[8, 11]"));
  EXPECT_EQ(c["optim_wrapper"]["optimizer"]["lr"], 0.01);
  EXPECT_EQ(c["max_epochs"], 36);
  EXPECT_EQ(c["work_dir"], "work_dirs/child");
  // Base key order first, then the child's new keys.
  std::vector<std::string> keys;
  for (const auto& [k, v] : c.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "optim_wrapper", "param_scheduler", "max_epochs", "work_dir"}));
}

TEST(ConfigBase, SingleStringBase) {
  ConfigNode c = load_config(cfg_path("child_single_base.yaml"));
  EXPECT_EQ(c["model"]["train_cfg"]["a"], 1);
  EXPECT_EQ(c["model"]["backbone"]["depth"], 50);
}

TEST(ConfigBase, OnlyOneLevel) {
  auto e = error_of([] { load_config(cfg_path("two_levels.yaml")); });
  EXPECT_NE(e.find("two_levels.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("child.yaml' has a _base_ of its own; only one level of _base_ is supported"),
            std::string::npos)
      << e;
}

// Found by fuzz_config: a _base_ name the file system refuses (longer than
// NAME_MAX) threw an uncaught std::filesystem_error; a directory is no config.
TEST(ConfigBase, UnusableBasePathsAreConfigErrors) {
  const std::string dir = test::temp_dir("cfg_base_path");
  const std::string path = dir + "/long.yaml";
  {
    std::ofstream out(path);
    out << "_base_: " << std::string(300, 'a') << ".yaml\nx: 1\n";
  }
  auto e = error_of([&] { load_config(path); });
  EXPECT_NE(e.find("long.yaml: _base_ file '"), std::string::npos) << e;
  EXPECT_NE(e.find("File name too long"), std::string::npos) << e;
  {
    std::ofstream out(path);
    out << "_base_: .\nx: 1\n";
  }
  e = error_of([&] { load_config(path); });
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
}

// Found by fuzz_config: yaml-cpp took keys with NUL bytes and invalid UTF-8,
// which PyYAML (so mmengine) refuses and which broke the config's JSON writers.
TEST(ConfigYaml, OnlyPrintableUtf8AsPyYamlReads) {
  EXPECT_EQ(parse_yaml_config("name: Zellkern \xc3\xbc \xe2\x9c\x93 \xf0\x9f\x94\xac\r\nt: 'a\tb'\n", "u.yaml")["name"],
            "Zellkern \xc3\xbc \xe2\x9c\x93 \xf0\x9f\x94\xac");
  auto e = error_of([] { parse_yaml_config(std::string("a: 1\nb\0c: 2\n", 11), "nul.yaml"); });
  EXPECT_NE(e.find("nul.yaml:2:2: control character U+0000 is not allowed"), std::string::npos) << e;
  e = error_of([] { parse_yaml_config("a: \xff\n", "ff.yaml"); });
  EXPECT_NE(e.find("ff.yaml:1:4: invalid UTF-8 at byte 3"), std::string::npos) << e;
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x9c"})
    EXPECT_NE(error_of([&] { parse_yaml_config(std::string("k: ") + bad + "\n", "b.yaml"); }).find("invalid UTF-8"),
              std::string::npos)
        << bad;
}

// Found by fuzz_config: nlohmann's out_of_range (a number beyond double)
// escaped read_config_file, which caught only parse_error.
TEST(ConfigJson, NumberOverflowIsAConfigError) {
  const std::string path = test::temp_dir("cfg_json") + "/big.json";
  {
    std::ofstream out(path);
    out << "{\"x\": 99999e999999999999}";
  }
  auto e = error_of([&] { read_config_file(path); });
  EXPECT_NE(e.find("big.json: JSON syntax error"), std::string::npos) << e;
  EXPECT_NE(e.find("number overflow"), std::string::npos) << e;
}

TEST(ConfigBase, DuplicateKeysAmongBasesAndBadMergeAreErrors) {
  auto e = error_of([] { load_config(cfg_path("dup_bases.yaml")); });
  EXPECT_NE(e.find("key 'model' is defined in two bases"), std::string::npos) << e;
  e = error_of([] { load_config(cfg_path("bad_merge.yaml")); });
  EXPECT_NE(e.find("max_epochs: is a dict here but a int in the base config; set `_delete_: true`"),
            std::string::npos)
      << e;
  e = error_of([] { load_config(cfg_path("template.yaml")); });
  EXPECT_NE(e.find("lr: template '{{_base_.optim_wrapper.optimizer.lr}}' is not supported"), std::string::npos)
      << e;
}

TEST(ConfigBase, MergeConfigRules) {
  ConfigNode base = ConfigNode::parse(R"({"a": {"x": 1, "y": {"p": 1}}, "b": null, "c": [1, 2]})");
  ConfigNode child = ConfigNode::parse(R"({"a": {"y": {"_delete_": true, "q": 2}}, "b": {"k": 1}, "c": [3]})");
  ConfigNode m = merge_config(base, child);
  EXPECT_EQ(m, ConfigNode::parse(R"({"a": {"x": 1, "y": {"q": 2}}, "b": {"k": 1}, "c": [3]})"));
  // _delete_ must be a bool.
  ConfigNode bad = ConfigNode::parse(R"({"a": {"_delete_": 1}})");
  EXPECT_NE(error_of([&] { merge_config(base, bad, "f.yaml"); }).find("a._delete_: expected true or false"),
            std::string::npos);
}

TEST(ConfigTree, SaveRoundTripsYamlAndJson) {
  ConfigNode c = read_config_file(cfg_path("scalars.yaml"));
  c.erase("nan");  // NaN != NaN
  c["weird_strings"] = ConfigNode::parse(R"(["yes", "~", "", "12", "1e-4", "a: b", "- x", "#c", "on_input"])");
  c["floats2"] = ConfigNode::parse("[2.0, 0.1, 1e-05, 1e20, -0.0]");
  c["empty_list"] = ConfigNode::array();
  c["empty_dict"] = ConfigNode::object();
  auto dir = test::temp_dir("cfg_save");
  save_config(c, dir + "/x.yaml");
  ConfigNode y = read_config_file(dir + "/x.yaml");
  EXPECT_EQ(y, c) << config_to_yaml(c);
  c.erase("infs");  // JSON has no infinities (nlohmann writes null)
  save_config(c, dir + "/x.json");
  EXPECT_EQ(read_config_file(dir + "/x.json"), c);
  EXPECT_NE(error_of([&] { save_config(c, dir + "/x.txt"); }).find("cannot save"), std::string::npos);
}

TEST(ConfigTree, FixtureDumpsLoad) {
  for (const char* name : {"solov2_config.json", "queryinst_config.json"}) {
    ConfigNode c = load_config(cfg_path(name));
    ASSERT_TRUE(c.contains("model")) << name;
    EXPECT_TRUE(c["model"]["backbone"].is_object());
    EXPECT_TRUE(c["pretty_text"].is_string());
  }
}

}  // namespace
}  // namespace instseg
