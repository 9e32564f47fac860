// publish_checkpoint (mmdet's publish_model.py): a training checkpoint keeps
// only meta and state_dict, with the same tensors, in the input's order; what
// cannot be published is an error naming the file.
#include "instseg/checkpoint/publish.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/tensor_value.h"
#include "instseg/core/check.h"

#include "common/error_of.h"
#include "common/test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace instseg {
namespace {

// What `instseg train` writes: meta, state_dict, then the training state.
TensorDict write_training_checkpoint(const std::string& path) {
  TensorDict sd;
  sd.set("backbone.conv1.weight", at::arange(24, at::kFloat).reshape({2, 3, 2, 2}));
  sd.set("backbone.bn1.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  PyValue meta = PyValue::dict();
  meta.dict_set(PyValue::str("epoch"), PyValue::from_int(600));
  PyValue momentum = PyValue::dict();
  momentum.dict_set(PyValue::from_int(0), tensor_value(at::full({2, 3, 2, 2}, 0.5)));
  PyValue optimizer = PyValue::dict();
  optimizer.dict_set(PyValue::str("state"), momentum);
  PyValue hub = PyValue::dict();
  hub.dict_set(PyValue::str("runtime_info"), PyValue::dict());
  save_checkpoint(path, meta, sd, {{"message_hub", hub}, {"optimizer", optimizer}});
  return sd;
}

TEST(Publish, KeepsMetaAndStateDictWithTheSameTensors) {
  const std::string dir = test::temp_dir("publish");
  const std::string in = dir + "/epoch_600.pth", out = dir + "/published.pth";
  const TensorDict sd = write_training_checkpoint(in);
  const PublishResult r = publish_checkpoint(in, out);
  EXPECT_EQ(r.kept, (std::vector<std::string>{"meta", "state_dict"}));
  EXPECT_EQ(r.dropped, (std::vector<std::string>{"message_hub", "optimizer"}));
  EXPECT_EQ(r.num_weights, 2);
  EXPECT_LT(std::filesystem::file_size(out), std::filesystem::file_size(in));

  const PthFile f = read_pth(out);
  ASSERT_TRUE(f.root.is_dict());
  ASSERT_EQ(f.root.dict_items().size(), 2u);
  EXPECT_EQ(f.root.dict_items()[0].first.as_str(), "meta");
  EXPECT_EQ(f.root.get("meta")->get("epoch")->as_int(), 600);
  const TensorDict back = load_state_dict(out);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_TRUE(at::equal(back.at("backbone.conv1.weight"), sd.at("backbone.conv1.weight")));
  EXPECT_EQ(back.at("backbone.bn1.num_batches_tracked").item<int64_t>(), 7);
  EXPECT_EQ(back.at("backbone.bn1.num_batches_tracked").scalar_type(), at::kLong);

  // --save-keys: the training state can be kept on purpose.
  PublishOptions keep_hub;
  keep_hub.save_keys = {"state_dict", "message_hub"};
  const PublishResult r2 = publish_checkpoint(in, dir + "/with_hub.pth", keep_hub);
  EXPECT_EQ(r2.kept, (std::vector<std::string>{"state_dict", "message_hub"}));
  EXPECT_EQ(r2.dropped, (std::vector<std::string>{"meta", "optimizer"}));
}

// --fp16: floating weights rounded to float16, integer buffers untouched, the
// other entries as without it; the file is smaller and loads back to the same
// values up to fp16 rounding.
TEST(Publish, HalfStoresFloatingWeightsAsFloat16) {
  const std::string dir = test::temp_dir("publish_half");
  const std::string in = dir + "/epoch_600.pth", full = dir + "/full.pth", half = dir + "/half.pth";
  TensorDict sd;
  sd.set("w", at::linspace(-3.0, 3.0, 4096, at::kFloat).reshape({64, 64}));
  sd.set("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  sd.set("already_half", at::full({3}, 0.25, at::kHalf));
  save_checkpoint(in, PyValue::dict(), sd, {});
  const PublishResult rf = publish_checkpoint(in, full);
  EXPECT_EQ(rf.num_halved, 0);
  PublishOptions o;
  o.half = true;
  const PublishResult r = publish_checkpoint(in, half, o);
  EXPECT_EQ(r.num_weights, 3);
  EXPECT_EQ(r.num_halved, 1);  // only the fp32 tensor
  EXPECT_EQ(r.kept, (std::vector<std::string>{"meta", "state_dict"}));
  EXPECT_LT(std::filesystem::file_size(half), std::filesystem::file_size(full) - 6000);
  const TensorDict back = load_state_dict(half);
  EXPECT_EQ(back.at("w").scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(back.at("w"), sd.at("w").to(at::kHalf)));
  EXPECT_FALSE(at::equal(back.at("w").to(at::kFloat), sd.at("w")));  // rounded, not the fp32 values
  EXPECT_EQ(back.at("bn.num_batches_tracked").scalar_type(), at::kLong);
  EXPECT_EQ(back.at("bn.num_batches_tracked").item<int64_t>(), 7);
  EXPECT_TRUE(at::equal(back.at("already_half"), sd.at("already_half")));
}

TEST(Publish, WhatCannotBePublishedIsAnErrorNamingTheFile) {
  const std::string dir = test::temp_dir("publish_bad");
  // A bare state dict (torchvision's format): nothing to strip.
  TensorDict sd;
  sd.set("conv.weight", at::ones({1}));
  const std::string bare = dir + "/bare.pth";
  write_pth(bare, state_dict_value(sd));
  const std::string bare_err = test::error_message_of([&] { publish_checkpoint(bare, dir + "/o.pth"); });
  EXPECT_NE(bare_err.find(bare), std::string::npos) << bare_err;
  EXPECT_NE(bare_err.find("state_dict"), std::string::npos) << bare_err;

  const std::string missing = dir + "/missing.pth";
  const std::string missing_err = test::error_message_of([&] { publish_checkpoint(missing, dir + "/o.pth"); });
  EXPECT_NE(missing_err.find(missing), std::string::npos) << missing_err;

  const std::string in = dir + "/train.pth";
  write_training_checkpoint(in);
  EXPECT_NE(test::error_message_of([&] { publish_checkpoint(in, in); }).find("must differ"), std::string::npos);
  PublishOptions no_weights;
  no_weights.save_keys = {"meta"};
  EXPECT_NE(test::error_message_of([&] { publish_checkpoint(in, dir + "/o.pth", no_weights); }).find("state_dict"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir + "/o.pth"));
}

}  // namespace
}  // namespace instseg
