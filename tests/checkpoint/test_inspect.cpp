// describe_checkpoint / inspect_text / inspect_json, and `instseg inspect` on the
// shared mmdetection checkpoints against the key lists Python torch.load printed
// (tests/data/checkpoint/shared_keys_<model>.txt, from make_fixtures.py).
#include "instseg/checkpoint/inspect.h"
#include "instseg/checkpoint/pth_reader.h"

#include "common/test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace instseg {
namespace {

std::string run(const std::string& cmd, int* rc) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  *rc = pclose(pipe);
  return out;
}

// "key\tdtype\td0,d1" lines, as make_fixtures.py writes them.
std::string as_lines(const std::vector<TensorInfo>& tensors) {
  std::string out;
  for (const auto& t : tensors) {
    out += t.key + "\t" + t.dtype + "\t";
    for (size_t d = 0; d < t.shape.size(); ++d) out += (d ? "," : "") + std::to_string(t.shape[d]);
    out += "\n";
  }
  return out;
}

TEST(Inspect, DescribesAnMmdetCheckpoint) {
  for (const char* fmt : {"zip", "legacy"}) {
    CheckpointInfo info = describe_checkpoint(read_pth(test::data_path(std::string("checkpoint/mmdet_") + fmt + ".pth")));
    EXPECT_EQ(info.format, fmt);
    EXPECT_EQ(info.weights_key, "state_dict");
    EXPECT_EQ(info.other_keys, (std::vector<std::string>{"optimizer", "message_hub"}));
    ASSERT_EQ(info.tensors.size(), 8u);
    EXPECT_EQ(info.tensors[0].key, "conv.weight");
    EXPECT_EQ(info.tensors[0].shape, (std::vector<int64_t>{4, 3, 3, 3}));
    EXPECT_EQ(info.tensors[5].key, "bn.num_batches_tracked");
    EXPECT_EQ(info.tensors[5].dtype, "int64");
    EXPECT_EQ(info.num_elements, 108 + 4 * 4 + 1 + 16 + 2);
    std::string text = inspect_text(info);
    EXPECT_NE(text.find(std::string("format: ") + fmt + "\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  mmdet_version: '3.3.0'\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  seed: <numpy.core.multiarray.scalar"), std::string::npos) << text;
    EXPECT_NE(text.find("entry: optimizer (dict, 2 entries)"), std::string::npos) << text;
    EXPECT_NE(text.find("weights: state_dict, 8 tensors, 143 elements"), std::string::npos) << text;
    EXPECT_NE(text.find("  conv.weight             [4, 3, 3, 3]  float32\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  bn.num_batches_tracked  []  int64\n"), std::string::npos) << text;
  }
}

TEST(Inspect, TopLevelWeights) {
  CheckpointInfo info = describe_checkpoint(read_pth(test::data_path("checkpoint/views_zip.pth")));
  EXPECT_EQ(info.weights_key, "");
  ASSERT_EQ(info.tensors.size(), 6u);
  EXPECT_EQ(info.tensors[1].key, "t");
  EXPECT_EQ(info.tensors[1].shape, (std::vector<int64_t>{6, 4}));
}

TEST(Inspect, Json) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01 \xc3\xa9"), "\"a\\\"b\\\\c\\n\\u0001 \xc3\xa9\"");
  PthFile f = read_pth(test::data_path("checkpoint/meta_legacy.pth"));
  const PyValue& m = *f.root.get("meta");
  EXPECT_EQ(to_json(*m.get("nested")), "{\"a\": {\"b\": [1, 2.5, \"x\"]}, \"empty_list\": [], \"empty_dict\": {}}");
  EXPECT_EQ(to_json(*m.get("np_array")), "{\"__object__\": \"numpy.core.multiarray._reconstruct\"}");
  EXPECT_EQ(to_json(*m.get("big")), "\"1180591620717411303424\"");
  EXPECT_EQ(to_json(*m.get("raw")), "{\"__bytes__\": 6}");
  EXPECT_EQ(to_json(PyValue::from_float(1.0 / 0.0)), "null");
  EXPECT_EQ(to_json(PyValue::from_float(2.0)), "2.0");
  std::string js = inspect_json(describe_checkpoint(f));
  EXPECT_NE(js.find("\"format\": \"legacy\""), std::string::npos) << js;
  EXPECT_NE(js.find("{\"key\": \"w\", \"shape\": [2], \"dtype\": \"float32\"}"), std::string::npos) << js;
  // Valid JSON according to Python, when there is one.
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
    std::string p = test::temp_dir("ckpt_json") + "/x.json";
    std::ofstream(p) << js;
    EXPECT_EQ(std::system(("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " + p).c_str()), 0) << js;
  }
}

// Every shared mmdetection checkpoint lists exactly the keys, dtypes and shapes torch.load sees.
TEST(Inspect, SharedCheckpointsMatchPython) {
  INSTSEG_REQUIRE_SHARED();
  int checked = 0;
  for (const char* model : {"solov2", "queryinst"}) {
    std::string path = test::shared_path(std::string("fixtures/") + model + "/checkpoint.pth");
    if (!std::filesystem::exists(path)) continue;
    CheckpointInfo info = describe_checkpoint(read_pth(path));
    EXPECT_EQ(info.weights_key, "state_dict");
    std::string expected = test::read_bytes(test::data_path(std::string("checkpoint/shared_keys_") + model + ".txt"));
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(as_lines(info.tensors), expected) << model;
    EXPECT_TRUE(info.meta.is_dict());
    EXPECT_EQ(info.meta.get("mmdet_version")->as_str(), "3.3.0");
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

// The CLI prints the same description (skipped when the instseg binary was not built).
TEST(Inspect, CommandLine) {
  if (!std::filesystem::exists(test::instseg_binary())) GTEST_SKIP() << "instseg CLI not built; skipping";
  std::string path = test::data_path("checkpoint/mmdet_legacy.pth");
  std::string expected_json = inspect_json(describe_checkpoint(read_pth(path)));
  int rc = -1;
  std::string out = run(test::instseg_binary() + " inspect " + path + " --json 2>/dev/null", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, expected_json);
  out = run(test::instseg_binary() + " inspect " + path + " 2>/dev/null", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, inspect_text(describe_checkpoint(read_pth(path))));
  out = run(test::instseg_binary() + " inspect /nonexistent.pth 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("/nonexistent.pth: cannot open file"), std::string::npos) << out;
}

}  // namespace
}  // namespace instseg
