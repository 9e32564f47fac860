// load_weights: the one checkpoint -> model function (strict / not strict,
// messages naming the file and the target, mmdet's dataset_meta).
#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/core/check.h"

#include "common/test_util.h"
#include "common/error_of.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace instseg {
namespace {

struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t classes = 3) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    cls = register_module("cls", torch::nn::Linear(4, classes));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear cls{nullptr};
};
TORCH_MODULE(Net);


PyValue meta_with_classes(const std::vector<std::string>& classes) {
  PyValue names = PyValue::tuple();
  for (const auto& c : classes) names.mutable_items().push_back(PyValue::str(c));
  PyValue palette = PyValue::list();
  palette.append(PyValue::tuple({PyValue::from_int(220), PyValue::from_int(20), PyValue::from_int(60)}));
  palette.append(PyValue::tuple({PyValue::from_int(1), PyValue::from_int(2), PyValue::from_int(3)}));
  PyValue dm = PyValue::dict();
  dm.dict_set(PyValue::str("classes"), names);
  dm.dict_set(PyValue::str("palette"), palette);
  PyValue meta = PyValue::dict();
  meta.dict_set(PyValue::str("dataset_meta"), dm);
  return meta;
}

TEST(LoadWeights, LoadsMmdetLayoutAndDatasetMeta) {
  torch::manual_seed(1);
  Net src;
  const std::string path = test::temp_dir("load_weights") + "/ok.pth";
  // DataParallel's "module." prefix is stripped, as mmengine does.
  TensorDict sd;
  for (const auto& kv : module_state_dict(*src)) sd.set("module." + kv.first, kv.second);
  save_checkpoint(path, meta_with_classes({"a", "b", "c"}), sd);

  Net dst;
  const LoadedWeights w = load_weights(*dst, path, {});
  EXPECT_TRUE(w.report.ok()) << w.report.summary();
  EXPECT_EQ(w.report.loaded, 4u);
  EXPECT_EQ(w.checkpoint, path);
  EXPECT_EQ(w.format, "zip");
  EXPECT_TRUE(dst->conv->weight.equal(src->conv->weight));
  EXPECT_EQ(w.dataset_meta.classes, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(w.dataset_meta.palette.size(), 2u);
  EXPECT_EQ(w.dataset_meta.palette[0], (std::array<uint8_t, 3>{220, 20, 60}));
}

TEST(LoadWeights, StrictErrorNamesFileAndTargetAndCopiesNothing) {
  torch::manual_seed(2);
  Net src(5);  // another class count: cls.* mis-shaped
  const std::string path = test::temp_dir("load_weights") + "/five.pth";
  save_checkpoint(path, PyValue::dict(), module_state_dict(*src));

  Net dst(3);
  const at::Tensor before = dst->conv->weight.clone();
  LoadWeightsOptions o;
  o.target = "the SOLOv2 model of configs/x.yaml";
  const std::string err = test::error_message_of([&] { load_weights(*dst, path, o); });
  EXPECT_NE(err.find(path + ": does not fit the SOLOv2 model of configs/x.yaml"), std::string::npos) << err;
  EXPECT_NE(err.find("cls.weight: checkpoint [5, 4] vs model [3, 4]"), std::string::npos) << err;
  EXPECT_TRUE(dst->conv->weight.equal(before)) << "strict: nothing may be copied on a mismatch";

  // Not strict (mmengine's load_from): what fits is loaded, the rest reported.
  o.strict = false;
  const LoadedWeights w = load_weights(*dst, path, o);
  EXPECT_EQ(w.report.loaded, 2u);
  EXPECT_EQ(w.report.mismatched.size(), 2u);
  EXPECT_TRUE(dst->conv->weight.equal(src->conv->weight));
}

TEST(LoadWeights, UnreadableAndEmptyFilesNameTheFile) {
  const std::string dir = test::temp_dir("load_weights");
  Net dst;
  const std::string missing = dir + "/nope.pth";
  EXPECT_NE(test::error_message_of([&] { load_weights(*dst, missing, {}); }).find(missing), std::string::npos);
  const std::string empty = dir + "/empty.pth";
  save_checkpoint(empty, PyValue::dict(), TensorDict{});
  const std::string err = test::error_message_of([&] { load_weights(*dst, empty, {}); });
  EXPECT_NE(err.find(empty + ": no tensors"), std::string::npos) << err;
}

// mmengine's load_checkpoint(prefix=): a sub-module out of a bigger
// checkpoint, the prefix stripped; a missing trailing '.' is added.
TEST(LoadWeights, PrefixSelectsAndStripsASubmodule) {
  torch::manual_seed(4);
  Net part;
  TensorDict sd;
  for (const auto& kv : module_state_dict(*part)) sd.set("backbone." + kv.first, kv.second);
  sd.set("neck.lateral.weight", torch::ones({2, 2}));
  sd.set("backbone_extra.weight", torch::ones({1}));  // "backbone_" is not "backbone."
  const std::string path = test::temp_dir("load_weights") + "/detector.pth";
  save_checkpoint(path, PyValue::dict(), sd);

  for (const char* prefix : {"backbone.", "backbone"}) {
    Net dst;
    LoadWeightsOptions o;
    o.prefix = prefix;
    const LoadedWeights w = load_weights(*dst, path, o);  // strict: the selected keys fit exactly
    EXPECT_TRUE(w.report.ok()) << w.report.summary();
    EXPECT_EQ(w.report.loaded, 4u);
    EXPECT_TRUE(dst->cls->weight.equal(part->cls->weight));
  }
  Net dst;
  LoadWeightsOptions o;
  o.prefix = "roi_head.";
  o.strict = false;
  const std::string err = test::error_message_of([&] { load_weights(*dst, path, o); });
  EXPECT_NE(err.find(path + ": no key starts with the prefix 'roi_head.' (6 keys, e.g. 'backbone.conv.weight')"),
            std::string::npos)
      << err;
}

TEST(LoadWeights, DatasetMetaIgnoresMalformedEntries) {
  PyValue meta = meta_with_classes({"x"});
  PyValue root = PyValue::dict();
  root.dict_set(PyValue::str("meta"), meta);
  DatasetMeta dm = read_dataset_meta(root);
  EXPECT_EQ(dm.classes, std::vector<std::string>{"x"});
  EXPECT_EQ(dm.palette.size(), 2u);
  EXPECT_TRUE(read_dataset_meta(PyValue::dict()).classes.empty());
  EXPECT_TRUE(read_dataset_meta(PyValue::list()).classes.empty());
}

}  // namespace
}  // namespace instseg
